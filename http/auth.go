package http

import (
	"crypto/sha256"
	"net/http"
	"strings"
)

// BearerTokens is a set of accepted bearer tokens; several may be valid at
// once so that one can be rotated without downtime. Tokens are kept as
// SHA-256 digests and compared in constant time, every one of them, so that
// neither the length nor the content of a token leaks through timing.
type BearerTokens struct {
	digests [][sha256.Size]byte
}

// NewBearerTokens keeps the tokens that are not blank, trimmed.
func NewBearerTokens(tokens []string) BearerTokens {
	var b BearerTokens
	for _, t := range tokens {
		if t = strings.TrimSpace(t); t != "" {
			b.digests = append(b.digests, sha256.Sum256([]byte(t)))
		}
	}
	return b
}

// Len is the number of tokens.
func (b BearerTokens) Len() int { return len(b.digests) }

// Valid reports whether header, an Authorization value, is
// "Bearer <one of the tokens>".
func (b BearerTokens) Valid(header string) bool {
	return b.match(header) >= 0 // no fingerprint: the webhook asks this once a report
}

// requireAdmin answers 401 unless the request carries one of the admin
// tokens or the cookie of a live dashboard session; a request that brings an
// Authorization header is judged by it alone. A write made with the cookie
// must also pass checkCookieWrite (403 otherwise).
func (s *Server) requireAdmin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth := r.Header.Get("Authorization"); auth != "" {
			fp, ok := s.tokens.authenticate(auth)
			if !ok {
				s.unauthorized(w, r)
				return
			}
			h.ServeHTTP(w, withFingerprint(r, fp)) // TokenFingerprint tells handlers which token
			return
		}
		sess, ok := s.sessionOf(r)
		if !ok {
			s.unauthorized(w, r)
			return
		}
		if err := checkCookieWrite(r, sess); err != nil {
			s.writeError(w, r, err)
			return
		}
		h.ServeHTTP(w, withFingerprint(r, sess.fp))
	})
}

func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="herald"`)
	s.writeError(w, r, errUnauthorized)
}
