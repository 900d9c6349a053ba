package http

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Dashboard sessions. Signing in with an admin token gives the browser a
// session cookie, HttpOnly and SameSite=Strict (Secure when the request came
// over TLS or through a proxy saying X-Forwarded-Proto: https). The cookie
// holds an expiry and a random nonce, signed with HMAC-SHA256 under a key
// derived from the admin token's digest; it never holds the token. Any
// serve process with the same admin tokens accepts it, so a load balancer
// need not be sticky and a restart signs nobody out. Removing a token from
// --admin-token ends every session signed under it. Signing out clears the
// cookie and revokes it in the process that answered; other processes
// accept a copy of it until it expires (rotate the token to cut them all).
//
// Writes made with the cookie must come from the dashboard's own origin
// (Origin, or Sec-Fetch-Site, says same-origin) and carry the session's
// CSRF token in X-CSRF-Token: an HMAC of the session under the same key,
// handed to the page by POST and GET /v1/session and kept in no cookie, so
// that another site can neither send it nor read it.
const (
	// SessionCookie is the name of the dashboard's session cookie.
	SessionCookie = "herald_session"
	// CSRFHeader carries the session's CSRF token on cookie-authenticated writes.
	CSRFHeader = "X-CSRF-Token"
	// DefaultSessionTTL is how long a dashboard sign-in lasts.
	DefaultSessionTTL = 12 * time.Hour
)

// Layout of a session cookie's value before base64: version, expiry (Unix
// seconds, big-endian), nonce, then the HMAC of those.
const (
	sessionVersion = 1
	noncePos       = 1 + 8
	payloadLen     = noncePos + 16
	cookieLen      = payloadLen + sha256.Size
	// maxRevoked bounds the sign-outs remembered until their expiry.
	maxRevoked = 100_000
)

// session is one signed-in browser.
type session struct {
	payload []byte // version, expiry, nonce
	key     []byte // the key that signed it
	fp      string // the fingerprint of the admin token it was signed in with
	expires time.Time
}

// csrf is the session's CSRF token.
func (s session) csrf() string {
	return base64.RawURLEncoding.EncodeToString(mac(s.key, "csrf", s.payload))
}

// sessions signs and checks session cookies; it remembers sign-outs.
type sessions struct {
	keys    [][]byte // one per admin token, signing the sessions signed in with it
	fps     []string // the fingerprint of each key's token
	ttl     time.Duration
	mu      sync.Mutex
	revoked map[[16]byte]time.Time
}

func newSessions(tokens BearerTokens, ttl time.Duration) *sessions {
	ss := &sessions{ttl: ttl, revoked: make(map[[16]byte]time.Time)}
	for _, d := range tokens.digests {
		ss.keys = append(ss.keys, mac(d[:], "herald dashboard session v1", nil))
		ss.fps = append(ss.fps, fingerprintOf(d))
	}
	return ss
}

func mac(key []byte, label string, data []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(label))
	h.Write([]byte{0})
	h.Write(data)
	return h.Sum(nil)
}

// create starts a session signed under the key of the token with
// fingerprint fp, and returns its cookie value.
func (ss *sessions) create(now time.Time, fp string) (string, session) {
	i := max(slices.Index(ss.fps, fp), 0)
	s := session{payload: make([]byte, payloadLen), key: ss.keys[i], fp: ss.fps[i], expires: now.Add(ss.ttl).Truncate(time.Second)}
	s.payload[0] = sessionVersion
	binary.BigEndian.PutUint64(s.payload[1:noncePos], uint64(s.expires.Unix()))
	rand.Read(s.payload[noncePos:]) // never fails (crypto/rand panics rather than return short)
	value := append(append([]byte(nil), s.payload...), mac(s.key, "session", s.payload)...)
	return base64.RawURLEncoding.EncodeToString(value), s
}

// get checks a cookie value: well formed, signed under one of the keys
// (every key is tried, in constant time), not expired, not signed out.
func (ss *sessions) get(value string, now time.Time) (session, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) != cookieLen || raw[0] != sessionVersion {
		return session{}, false
	}
	payload, sig := raw[:payloadLen], raw[payloadLen:]
	var key []byte
	var fp string
	for i, k := range ss.keys {
		if hmac.Equal(sig, mac(k, "session", payload)) {
			key, fp = k, ss.fps[i]
		}
	}
	if key == nil {
		return session{}, false
	}
	s := session{payload: payload, key: key, fp: fp, expires: time.Unix(int64(binary.BigEndian.Uint64(payload[1:noncePos])), 0)}
	if !now.Before(s.expires) {
		return session{}, false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if _, out := ss.revoked[[16]byte(payload[noncePos:])]; out {
		return session{}, false
	}
	return s, true
}

// revoke remembers a sign-out until the session would have expired.
func (ss *sessions) revoke(s session, now time.Time) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.revoked) >= maxRevoked {
		for k, exp := range ss.revoked {
			if !now.Before(exp) {
				delete(ss.revoked, k)
			}
		}
	}
	if len(ss.revoked) < maxRevoked {
		ss.revoked[[16]byte(s.payload[noncePos:])] = s.expires
	}
}

// sessionOf returns the request's live session.
func (s *Server) sessionOf(r *http.Request) (session, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return session{}, false
	}
	return s.sessions.get(c.Value, s.now())
}

// checkCookieWrite refuses a state-changing request made with the session
// cookie unless it comes from this origin and carries the CSRF token.
func checkCookieWrite(r *http.Request, sess session) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if !sameOrigin(r) {
		return errCrossOrigin
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf())) != 1 {
		return errCSRF
	}
	return nil
}

// sameOrigin reports whether the browser says the request comes from a
// page of this server. A browser sends Origin on every POST, PATCH and
// DELETE; a request without Origin and without Sec-Fetch-Site is not
// taken for same-origin. Behind a reverse proxy the Host header must be
// passed through for the comparison to hold.
func sameOrigin(r *http.Request) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	if site != "" && site != "same-origin" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return site == "same-origin"
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return u.Host == r.Host
}

// secureRequest reports whether the browser reached us over HTTPS, directly
// or through a proxy that says so; the cookie is then marked Secure.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

// sessionInfo is the body of POST and GET /v1/session.
type sessionInfo struct {
	CSRFToken string    `json:"csrfToken"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// signInRequest is the body of POST /v1/session.
type signInRequest struct {
	Token string `json:"token"`
}

// signIn checks an admin token (in constant time, like the bearer check)
// and starts a session.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Origin") != "" && !sameOrigin(r) {
		s.writeError(w, r, errCrossOrigin)
		return
	}
	var req signInRequest
	if err := decodeJSON(w, r, 4<<10, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	fp, ok := s.tokens.authenticate("Bearer " + req.Token)
	if !ok {
		s.writeError(w, r, errBadSignIn)
		return
	}
	value, sess := s.sessions.create(s.now(), fp)
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: value, Path: "/", Expires: sess.expires, MaxAge: int(s.sessions.ttl.Seconds()),
		HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteStrictMode,
	})
	writeSession(w, http.StatusCreated, sess)
}

// getSession tells the page whether it is signed in, and its CSRF token.
func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.sessionOf(r)
	if !ok {
		s.unauthorized(w, r)
		return
	}
	writeSession(w, http.StatusOK, sess)
}

// writeSession answers the session's CSRF token and expiry, never cached.
func writeSession(w http.ResponseWriter, status int, sess session) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, sessionInfo{CSRFToken: sess.csrf(), ExpiresAt: sess.expires.UTC()})
}

// signOut ends the session; like every cookie write it needs the CSRF token.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.sessionOf(r)
	if !ok {
		s.unauthorized(w, r)
		return
	}
	if err := checkCookieWrite(r, sess); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.sessions.revoke(sess, s.now())
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}
