package http

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Dashboard sessions. Signing in with an admin token gives the browser an
// opaque random session id in an HttpOnly, SameSite=Strict cookie (Secure
// when the request came over TLS or through a proxy saying
// X-Forwarded-Proto: https); the token itself never leaves the sign-in
// request. Sessions live in this process's memory: a restart signs everyone
// out, and with several serve processes behind one address the balancer
// must be sticky (scripts use the bearer token and need nothing of this).
//
// Writes made with the cookie must come from the dashboard's own origin
// (Origin, or Sec-Fetch-Site, says same-origin) and carry the session's
// CSRF token in X-CSRF-Token: the token is handed to the page by
// POST/GET /v1/session and is not in any cookie, so another site can
// neither send it nor read it.
const (
	// SessionCookie is the name of the dashboard's session cookie.
	SessionCookie = "herald_session"
	// CSRFHeader carries the session's CSRF token on cookie-authenticated writes.
	CSRFHeader = "X-CSRF-Token"
	// DefaultSessionTTL is how long a dashboard sign-in lasts.
	DefaultSessionTTL = 12 * time.Hour
	// maxSessions bounds the session map; signing in needs an admin token,
	// so this only stops a runaway script from growing it without end.
	maxSessions = 10_000
)

// session is one signed-in browser.
type session struct {
	csrf    string
	expires time.Time
}

// sessions maps the SHA-256 of each session id to its session, so that
// neither a map lookup's timing nor a heap dump gives an id away.
type sessions struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[[sha256.Size]byte]session
}

func newSessions(ttl time.Duration) *sessions {
	return &sessions{ttl: ttl, m: make(map[[sha256.Size]byte]session)}
}

// create starts a session and returns its id and CSRF token.
func (ss *sessions) create(now time.Time) (id string, s session) {
	id, s = randomToken(), session{csrf: randomToken(), expires: now.Add(ss.ttl)}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.m) >= maxSessions {
		ss.pruneLocked(now)
	}
	if len(ss.m) >= maxSessions {
		for k := range ss.m { // still full of live sessions: drop one, any
			delete(ss.m, k)
			break
		}
	}
	ss.m[sha256.Sum256([]byte(id))] = s
	return id, s
}

// get returns the live session with this id.
func (ss *sessions) get(id string, now time.Time) (session, bool) {
	if id == "" {
		return session{}, false
	}
	k := sha256.Sum256([]byte(id))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[k]
	if ok && !now.Before(s.expires) {
		delete(ss.m, k)
		return session{}, false
	}
	return s, ok
}

func (ss *sessions) delete(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, sha256.Sum256([]byte(id)))
}

func (ss *sessions) pruneLocked(now time.Time) {
	for k, s := range ss.m {
		if !now.Before(s.expires) {
			delete(ss.m, k)
		}
	}
}

// randomToken is 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics rather than return short)
	return base64.RawURLEncoding.EncodeToString(b)
}

// sessionOf returns the request's live session and its id.
func (s *Server) sessionOf(r *http.Request) (string, session, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return "", session{}, false
	}
	sess, ok := s.sessions.get(c.Value, s.now())
	return c.Value, sess, ok
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
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) != 1 {
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
	if !s.tokens.Valid("Bearer " + req.Token) {
		s.writeError(w, r, errBadSignIn)
		return
	}
	id, sess := s.sessions.create(s.now())
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: id, Path: "/", Expires: sess.expires, MaxAge: int(s.sessions.ttl.Seconds()),
		HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteStrictMode,
	})
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, sessionInfo{CSRFToken: sess.csrf, ExpiresAt: sess.expires.UTC()})
}

// getSession tells the page whether it is signed in, and its CSRF token.
func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	_, sess, ok := s.sessionOf(r)
	if !ok {
		s.unauthorized(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, sessionInfo{CSRFToken: sess.csrf, ExpiresAt: sess.expires.UTC()})
}

// signOut ends the session; like every cookie write it needs the CSRF token.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	id, sess, ok := s.sessionOf(r)
	if !ok {
		s.unauthorized(w, r)
		return
	}
	if err := checkCookieWrite(r, sess); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.sessions.delete(id)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}
