package http_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/sqlite"
)

// signedIn is a dashboard session as a browser holds it.
type signedIn struct {
	cookie string // "herald_session=…", as the browser sends it back
	csrf   string
}

// signIn posts the token to /v1/session the way the sign-in form does.
func (e *env) signIn(token string, header ...string) (signedIn, response) {
	e.t.Helper()
	body := `{"token":"` + token + `"}`
	r := e.do("POST", "/v1/session", "application/json", strings.NewReader(body),
		append([]string{"Authorization", "", "Origin", e.srv.URL}, header...)...)
	if r.status != http.StatusCreated {
		return signedIn{}, r
	}
	var info struct{ CSRFToken string }
	r.want(e.t, http.StatusCreated, &info)
	var s signedIn
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == heraldhttp.SessionCookie {
			s.cookie = c.Name + "=" + c.Value
		}
	}
	if s.cookie == "" || info.CSRFToken == "" {
		e.t.Fatalf("sign-in gave cookie %q and csrf %q", s.cookie, info.CSRFToken)
	}
	s.csrf = info.CSRFToken
	return s, r
}

// browser sends a request with the session cookie only, plus header pairs.
func (e *env) browser(s signedIn, method, path string, body string, header ...string) response {
	e.t.Helper()
	var rd *strings.Reader
	ct := ""
	if body != "" {
		rd, ct = strings.NewReader(body), "application/json"
	} else {
		rd = strings.NewReader("")
	}
	return e.do(method, path, ct, rd, append([]string{"Authorization", "", "Cookie", s.cookie}, header...)...)
}

func TestSignInSetsAnOpaqueStrictCookie(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A wrong token is refused with the error shape and no cookie.
	for _, bad := range []string{"nope", tokenA[:10], tokenA + "x", ""} {
		_, r := e.signIn(bad)
		r.wantError(t, 401, "unauthorized", "")
		if len(r.header.Values("Set-Cookie")) != 0 {
			t.Errorf("token %q: a cookie was set", bad)
		}
	}
	s, r := e.signIn(tokenB)
	c := (&http.Response{Header: r.header}).Cookies()[0]
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure || c.MaxAge <= 0 {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP, a Max-Age", c)
	}
	if strings.Contains(c.Value, tokenB) || strings.Contains(string(r.body), tokenB) || len(c.Value) < 40 {
		t.Errorf("cookie %q / body %s: want an opaque id of 256 bits, never the token", c.Value, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
	// Behind a TLS-terminating proxy the cookie is Secure.
	_, r = e.signIn(tokenA, "X-Forwarded-Proto", "https")
	if c := (&http.Response{Header: r.header}).Cookies()[0]; !c.Secure {
		t.Errorf("behind https: cookie %+v is not Secure", c)
	}
	// The session reads the API and tells the page its CSRF token.
	e.browser(s, "GET", "/v1/campaigns", "").want(t, 200, nil)
	var info struct{ CSRFToken string }
	e.browser(s, "GET", "/v1/session", "").want(t, 200, &info)
	if info.CSRFToken != s.csrf {
		t.Errorf("GET /v1/session csrf %q, want %q", info.CSRFToken, s.csrf)
	}
	// Another site cannot sign a browser in.
	r = e.do("POST", "/v1/session", "application/json", strings.NewReader(`{"token":"`+tokenA+`"}`),
		"Authorization", "", "Origin", "https://evil.example")
	r.wantError(t, 403, "forbidden", "")
}

// A button press is a cookie-authenticated write: it must come from the
// dashboard's origin with the session's CSRF token, or nothing changes.
func TestCookieWritesNeedSameOriginAndCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addTemplate(welcome)
	e.addMembers(3)
	var c herald.Campaign
	e.json("POST", "/v1/campaigns", map[string]any{"name": "n", "templateCode": "WELCOME_1",
		"audience": map[string]any{"all": true}, "variables": map[string]string{"shop": "s"}, "tps": 10}).want(t, 201, &c)
	s, _ := e.signIn(tokenA)
	pause := "/v1/campaigns/" + itoa(c.ID) + "/pause"
	other := signedIn{cookie: s.cookie, csrf: "not-the-token"}
	for _, tc := range []struct {
		name   string
		s      signedIn
		header []string
	}{
		{"forged Origin", s, []string{"Origin", "https://evil.example", heraldhttp.CSRFHeader, s.csrf}},
		{"Origin on another port", s, []string{"Origin", "http://127.0.0.1:1", heraldhttp.CSRFHeader, s.csrf}},
		{"null Origin", s, []string{"Origin", "null", heraldhttp.CSRFHeader, s.csrf}},
		{"cross-site fetch", s, []string{"Sec-Fetch-Site", "cross-site", heraldhttp.CSRFHeader, s.csrf}},
		{"same-site but not same-origin", s, []string{"Origin", e.srv.URL, "Sec-Fetch-Site", "same-site", heraldhttp.CSRFHeader, s.csrf}},
		{"no Origin at all", s, []string{heraldhttp.CSRFHeader, s.csrf}},
		{"no CSRF token", s, []string{"Origin", e.srv.URL}},
		{"wrong CSRF token", other, []string{"Origin", e.srv.URL, heraldhttp.CSRFHeader, other.csrf}},
	} {
		e.browser(tc.s, "POST", pause, "", tc.header...).wantError(t, 403, "forbidden", "")
		e.browser(tc.s, "PATCH", "/v1/campaigns/"+itoa(c.ID), `{"tps":99}`, tc.header...).wantError(t, 403, "forbidden", "")
	}
	var now herald.Campaign
	e.do("GET", "/v1/campaigns/"+itoa(c.ID), "", nil).want(t, 200, &now)
	if now.State != herald.CampaignScheduled || now.TPS != 10 {
		t.Fatalf("after refused presses: %s at %d TPS, want scheduled at 10", now.State, now.TPS)
	}
	// The dashboard's own press goes through.
	e.browser(s, "POST", pause, "", "Origin", e.srv.URL, heraldhttp.CSRFHeader, s.csrf).want(t, 200, &now)
	if now.State != herald.CampaignPaused {
		t.Errorf("state %s, want paused", now.State)
	}
	e.browser(s, "PATCH", "/v1/campaigns/"+itoa(c.ID), `{"tps":99}`, "Sec-Fetch-Site", "same-origin", heraldhttp.CSRFHeader, s.csrf).want(t, 200, &now)
	if now.TPS != 99 {
		t.Errorf("tps %d, want 99", now.TPS)
	}
	// Scripts with the bearer token need neither Origin nor CSRF token.
	e.json("POST", "/v1/campaigns/"+itoa(c.ID)+"/resume", nil).want(t, 200, nil)
}

func TestSignOutAndExpiry(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	clock.Store(testNow.UnixNano())
	e := newEnv(t, func(c *heraldhttp.ServerConfig) {
		c.Now = func() time.Time { return time.Unix(0, clock.Load()).UTC() }
		c.SessionTTL = time.Hour
	})
	s, _ := e.signIn(tokenA)
	// Signing out is a write: it needs the CSRF token too.
	e.browser(s, "DELETE", "/v1/session", "", "Origin", e.srv.URL).wantError(t, 403, "forbidden", "")
	e.browser(s, "GET", "/v1/templates", "").want(t, 200, nil)
	r := e.browser(s, "DELETE", "/v1/session", "", "Origin", e.srv.URL, heraldhttp.CSRFHeader, s.csrf)
	r.want(t, 204, nil)
	if c := (&http.Response{Header: r.header}).Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Errorf("sign-out cookies %+v: want the cookie cleared", c)
	}
	e.browser(s, "GET", "/v1/templates", "").wantError(t, 401, "unauthorized", "")
	e.browser(s, "GET", "/v1/session", "").wantError(t, 401, "unauthorized", "")

	s, _ = e.signIn(tokenA)
	clock.Add(int64(59 * time.Minute))
	e.browser(s, "GET", "/v1/templates", "").want(t, 200, nil)
	clock.Add(int64(time.Minute))
	e.browser(s, "GET", "/v1/templates", "").wantError(t, 401, "unauthorized", "")

	// A valid cookie does not rescue a wrong bearer token.
	s, _ = e.signIn(tokenA)
	e.do("GET", "/v1/templates", "", nil, "Authorization", "Bearer wrong", "Cookie", s.cookie).wantError(t, 401, "unauthorized", "")
}

// publicRoutes answer without credentials: probes, metrics, the API
// description, the sign-in itself and the dashboard's static code.
var publicRoutes = map[string]bool{
	"GET /healthz": true, "GET /readyz": true, "GET /metrics": true, "GET /openapi.json": true,
	"POST /v1/session": true, "GET /assets/{file...}": true,
}

// Every other route, whatever it is, answers 401 to a missing or forged
// cookie and to a wrong token; the dashboard pages show only the sign-in.
func TestEveryRouteNeedsCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addTemplate(welcome)
	e.addMembers(1)
	e.json("POST", "/v1/campaigns", map[string]any{"name": "secret-campaign-name", "templateCode": "WELCOME_1",
		"audience": map[string]any{"all": true}, "variables": map[string]string{"shop": "s"}, "tps": 10}).want(t, 201, nil)
	s, _ := e.signIn(tokenA)
	checked := 0
	for _, pattern := range e.api.Patterns() {
		if publicRoutes[pattern] {
			continue
		}
		method, path := concretePath(pattern)
		for _, creds := range [][]string{
			{"Authorization", ""},
			{"Authorization", "Bearer wrong-token-0123456789"},
			{"Authorization", "", "Cookie", heraldhttp.SessionCookie + "=forged"},
			{"Authorization", "", "Cookie", heraldhttp.SessionCookie + "=" + strings.Repeat("A", 43)},
		} {
			r := e.do(method, path, "", nil, creds...)
			if r.status != http.StatusUnauthorized {
				t.Errorf("%s %s with %q: status %d, want 401", method, path, creds, r.status)
				continue
			}
			if bytes.Contains(r.body, []byte("secret-campaign-name")) || r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s: the 401 reveals data or lacks WWW-Authenticate", method, path)
			}
			if strings.HasPrefix(path, "/v1/") {
				r.wantError(t, 401, "unauthorized", "")
			}
		}
		checked++
	}
	if checked < 15 {
		t.Fatalf("only %d guarded routes checked", checked)
	}
	// Signed in, the pages are served; they are the same shell, data comes from the API.
	for _, path := range []string{"/", "/campaigns/1"} {
		r := e.browser(s, "GET", path, "")
		r.want(t, 200, nil)
		if !bytes.Contains(r.body, []byte(`src="/assets/app.js"`)) || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: not the dashboard shell: %s", path, r.body)
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
	r := e.do("GET", "/assets/app.js", "", nil, "Authorization", "")
	r.want(t, 200, nil)
	if !bytes.Contains(r.body, []byte("/v1/session")) {
		t.Error("app.js is not the dashboard script")
	}
}

// concretePath fills a pattern's wildcards so that the route matches.
func concretePath(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = strings.TrimSuffix(path, "{$}")
	for {
		i := strings.Index(path, "{")
		if i < 0 {
			return method, path
		}
		j := strings.Index(path[i:], "}")
		path = path[:i] + "1" + path[i+j+1:]
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// The cookie is signed, not looked up: every process with the same admin
// tokens accepts it (a load balancer need not be sticky), none accepts it
// once the token that signed it is gone, and a changed byte spoils it.
func TestSessionsAreSignedAcrossProcesses(t *testing.T) {
	t.Parallel()
	a, b := newEnv(t), newEnv(t)
	rotated := newEnv(t, func(c *heraldhttp.ServerConfig) { c.AdminTokens = []string{tokenB} })
	s, _ := a.signIn(tokenA)
	b.browser(s, "GET", "/v1/templates", "").want(t, 200, nil)
	b.browser(s, "POST", "/v1/templates", `{"code":"X","senderKey":"k","text":"t"}`,
		"Origin", b.srv.URL, heraldhttp.CSRFHeader, s.csrf).want(t, 201, nil)
	rotated.browser(s, "GET", "/v1/templates", "").wantError(t, 401, "unauthorized", "")

	name, value, _ := strings.Cut(s.cookie, "=")
	for i := range value {
		c := value[i] ^ 1
		if c == '+' || c == '/' || c == '=' { // not in the URL-safe alphabet
			continue
		}
		forged := signedIn{cookie: name + "=" + value[:i] + string(c) + value[i+1:], csrf: s.csrf}
		if r := a.browser(forged, "GET", "/v1/templates", ""); r.status != 401 {
			t.Fatalf("cookie changed at byte %d: status %d, want 401", i, r.status)
		}
	}
	// Signing out revokes it where it was answered.
	b.browser(s, "DELETE", "/v1/session", "", "Origin", b.srv.URL, heraldhttp.CSRFHeader, s.csrf).want(t, 204, nil)
	b.browser(s, "GET", "/v1/templates", "").wantError(t, 401, "unauthorized", "")
}

// FuzzSessionCookie: no cookie value but the one signed at sign-in opens a
// session, and none makes the check panic.
func FuzzSessionCookie(f *testing.F) {
	store, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "h.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	// A token of this process's own: the fuzzing workers are processes of
	// their own, and a cookie signed in one must not open a session in another.
	token := "fuzz-token-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	api, err := heraldhttp.NewServer(heraldhttp.ServerConfig{Store: store, AdminTokens: []string{token}})
	if err != nil {
		f.Fatal(err)
	}
	h := api.Handler()
	call := func(req *http.Request) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	signIn := httptest.NewRequest("POST", "/v1/session", strings.NewReader(`{"token":"`+token+`"}`))
	rec := call(signIn)
	var valid string
	for _, c := range rec.Result().Cookies() {
		valid = c.Value
	}
	if rec.Code != http.StatusCreated || valid == "" {
		f.Fatalf("sign-in: %d %s", rec.Code, rec.Body)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-1] + "A")
	f.Add("")
	f.Add(strings.Repeat("A", 76))
	f.Add("AQAAAAAAAAAA" + valid[12:])
	f.Fuzz(func(t *testing.T, value string) {
		req := httptest.NewRequest("GET", "/v1/session", nil)
		req.Header.Set("Cookie", heraldhttp.SessionCookie+"="+value)
		got := call(req).Code
		// The cookie header may be refused before the value is read (a
		// quote, a semicolon); what reaches the check is the parsed value.
		parsed := ""
		if c, err := req.Cookie(heraldhttp.SessionCookie); err == nil {
			parsed = c.Value
		}
		want := http.StatusUnauthorized
		if parsed == valid {
			want = http.StatusOK
		}
		if got != want {
			t.Fatalf("cookie %q: status %d, want %d", value, got, want)
		}
	})
}
