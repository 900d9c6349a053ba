package http_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/sqlite"
)

// Two tokens are valid at once, as during a rotation.
const (
	tokenA = "token-a-0123456789abcdef"
	tokenB = "token-b-0123456789abcdef"
)

var testNow = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// env is one server on its own SQLite file.
type env struct {
	t     *testing.T
	store *sqlite.Store
	srv   *httptest.Server
	api   *heraldhttp.Server
}

func newEnv(t *testing.T, opts ...func(*heraldhttp.ServerConfig)) *env {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return newEnvWith(t, store, store, opts...)
}

// newEnvWith serves s (which may wrap store) and keeps store for checks.
func newEnvWith(t *testing.T, store *sqlite.Store, s herald.Store, opts ...func(*heraldhttp.ServerConfig)) *env {
	cfg := heraldhttp.ServerConfig{
		Store:       s,
		AdminTokens: []string{tokenA, tokenB},
		Now:         func() time.Time { return testNow },
	}
	for _, o := range opts {
		o(&cfg)
	}
	api, err := heraldhttp.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, store: store, srv: srv, api: api}
}

func (e *env) client() *heraldhttp.Client {
	return heraldhttp.NewClient(e.srv.URL, tokenA, heraldhttp.WithHTTPClient(e.srv.Client()))
}

// response is a finished request: status, headers and body.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with tokenA unless a header map says otherwise.
func (e *env) do(method, path, contentType string, body io.Reader, header ...string) response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tokenA)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// json sends v as a JSON body.
func (e *env) json(method, path string, v any) response {
	e.t.Helper()
	var body io.Reader
	if v != nil {
		if s, ok := v.(string); ok {
			body = strings.NewReader(s)
		} else {
			b, err := json.Marshal(v)
			if err != nil {
				e.t.Fatal(err)
			}
			body = bytes.NewReader(b)
		}
	}
	return e.do(method, path, "application/json", body)
}

// want fails unless the response has status, and decodes its body into out.
func (r response) want(t *testing.T, status int, out any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			t.Fatalf("decode %s: %v", r.body, err)
		}
	}
}

// apiError is the decoded error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// wantError fails unless the response is the error shape with this status,
// code and field.
func (r response) wantError(t *testing.T, status int, code, field string) apiError {
	t.Helper()
	var e apiError
	r.want(t, status, &e)
	if e.Error.Code != code || e.Error.Field != field || e.Error.Message == "" {
		t.Fatalf("error %+v, want code %q field %q", e.Error, code, field)
	}
	return e
}

func TestAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		name, header string
		status       int
	}{
		{"none", "", http.StatusUnauthorized},
		{"bad token", "Bearer nope", http.StatusUnauthorized},
		{"prefix of a token", "Bearer " + tokenA[:10], http.StatusUnauthorized},
		{"token with suffix", "Bearer " + tokenA + "x", http.StatusUnauthorized},
		{"basic scheme", "Basic " + tokenA, http.StatusUnauthorized},
		{"no scheme", tokenA, http.StatusUnauthorized},
		{"first token", "Bearer " + tokenA, http.StatusOK},
		{"second token", "Bearer " + tokenB, http.StatusOK},
		{"lower-case scheme", "bearer " + tokenB, http.StatusOK},
	} {
		r := e.do("GET", "/v1/templates", "", nil, "Authorization", tc.header)
		if r.status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, r.status, tc.status)
		}
		if tc.status == http.StatusUnauthorized {
			r.wantError(t, 401, "unauthorized", "")
			if r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: no WWW-Authenticate", tc.name)
			}
		}
	}
	// Every admin route is behind the token, including the import.
	for _, route := range []string{"POST /v1/members/import", "GET /v1/members/x", "PUT /v1/members/x",
		"POST /v1/members/x/withdraw", "POST /v1/templates", "GET /v1/templates/x", "POST /v1/campaigns",
		"GET /v1/campaigns", "GET /v1/campaigns/1", "PATCH /v1/campaigns/1", "POST /v1/campaigns/1/pause",
		"POST /v1/campaigns/1/resume", "POST /v1/campaigns/1/cancel", "GET /v1/campaigns/1/recipients"} {
		method, path, _ := strings.Cut(route, " ")
		e.do(method, path, "", nil, "Authorization", "Bearer wrong").wantError(t, 401, "unauthorized", "")
	}
}

func TestNewServerNeedsATokenAndAStore(t *testing.T) {
	t.Parallel()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := heraldhttp.NewServer(heraldhttp.ServerConfig{Store: store, AdminTokens: []string{" ", ""}}); err == nil {
		t.Error("no usable token: want an error")
	}
	if _, err := heraldhttp.NewServer(heraldhttp.ServerConfig{AdminTokens: []string{tokenA}}); err == nil {
		t.Error("no store: want an error")
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do("GET", "/healthz", "", nil, "Authorization", "").want(t, 200, nil)
	e.do("GET", "/readyz", "", nil, "Authorization", "").want(t, 200, nil)
	e.do("GET", "/v1/templates", "", nil).want(t, 200, nil)
	r := e.do("GET", "/metrics", "", nil, "Authorization", "")
	r.want(t, 200, nil)
	for _, want := range []string{
		`herald_http_requests_total{code="200",route="GET /v1/templates"} 1`,
		`herald_http_requests_total{code="200",route="GET /readyz"} 1`,
		"go_goroutines", "process_", "herald_http_request_duration_seconds",
	} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if bytes.Contains(r.body, []byte(tokenA)) {
		t.Error("a token appears in the metrics")
	}
}

func TestReadyzWhenTheStoreIsDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.store.Close()
	e.do("GET", "/readyz", "", nil, "Authorization", "").wantError(t, 503, "unavailable", "")
	e.do("GET", "/healthz", "", nil, "Authorization", "").want(t, 200, nil)
	// A store failure on an admin route is a 500 with a generic message.
	r := e.do("GET", "/v1/templates", "", nil)
	if e := r.wantError(t, 500, "internal", ""); e.Error.Message != "internal error" {
		t.Errorf("message %q leaks details", e.Error.Message)
	}
}

func TestHandleMountsUnauthenticatedRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.api.Handle("POST /v1/reports", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	e.api.HandleAdmin("GET /v1/extra", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	e.do("POST", "/v1/reports", "", nil, "Authorization", "").want(t, http.StatusAccepted, nil)
	e.do("GET", "/v1/extra", "", nil, "Authorization", "").wantError(t, 401, "unauthorized", "")
	e.do("GET", "/v1/extra", "", nil).want(t, 200, nil)
}

// TestReadyzDetails: a degraded but working part is named while ready.
func TestReadyzDetails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var state atomic.Value
	state.Store("")
	e.api.AddReadyDetail("reports", func() string { return state.Load().(string) })
	r := e.do("GET", "/readyz", "", nil, "Authorization", "")
	r.want(t, 200, nil)
	if bytes.Contains(r.body, []byte("reports")) {
		t.Fatalf("an empty detail is named: %s", r.body)
	}
	state.Store("spooling")
	r = e.do("GET", "/readyz", "", nil, "Authorization", "")
	r.want(t, 200, nil)
	if !bytes.Contains(r.body, []byte(`"reports":"spooling"`)) || !bytes.Contains(r.body, []byte(`"status":"ready"`)) {
		t.Fatalf("readyz body %s", r.body)
	}
}

// TestUnmatchedRoutesUseTheErrorShape: ServeMux's own 404 and 405 come in
// the API's error shape, the 405 with its Allow header; a 404 a route
// itself answers is left as it is.
func TestUnmatchedRoutesUseTheErrorShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.api.Handle("GET /v1/own404", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "own", http.StatusNotFound)
	}))
	r := e.do("GET", "/no/such/route", "", nil)
	r.wantError(t, http.StatusNotFound, heraldhttp.CodeNotFound, "")
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("404 Content-Type %q, want JSON", ct)
	}
	r = e.do("DELETE", "/v1/campaigns", "", nil)
	msg := r.wantError(t, http.StatusMethodNotAllowed, heraldhttp.CodeMethodNotAllowed, "").Error.Message
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Errorf("405 Allow %q, want GET and POST", allow)
	}
	if !strings.Contains(msg, "DELETE") || !strings.Contains(msg, "POST") {
		t.Errorf("405 message %q names neither the method nor the allowed ones", msg)
	}
	if r = e.do("GET", "/v1/own404", "", nil); r.status != http.StatusNotFound || string(r.body) != "own\n" {
		t.Errorf("a route's own 404: %d %q, want it untouched", r.status, r.body)
	}
}
