package http

import (
	"crypto/sha256"
	"crypto/subtle"
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
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	match := 0
	for i := range b.digests {
		match |= subtle.ConstantTimeCompare(got[:], b.digests[i][:])
	}
	return match == 1
}

// requireAdmin answers 401 unless the request carries one of the admin tokens.
func (s *Server) requireAdmin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fp, ok := s.tokens.authenticate(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="herald"`)
			s.writeError(w, r, errUnauthorized)
			return
		}
		h.ServeHTTP(w, withFingerprint(r, fp)) // TokenFingerprint tells handlers which token
	})
}
