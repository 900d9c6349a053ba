package http_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/ingest"
	"github.com/heraldhq/herald/sqlite"
)

// The report webhook's edge, in front of a real ingest on SQLite.

const (
	repSecret = "report-secret-0123456789"
	repTokenA = "report-token-a-0123456789"
	repTokenB = "report-token-b-0123456789"
)

var repNow = time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)

type reportEnv struct {
	t     testing.TB
	store herald.Store
	in    *ingest.Ingest
	reg   *prometheus.Registry
	srv   *httptest.Server
	clock *repClock
}

type repClock struct{ ns atomic.Int64 }

func (c *repClock) now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// newReportEnv serves the webhook with edge (Secret and Tokens default to
// the tests') over ingest on a SQLite file.
func newReportEnv(t testing.TB, edge heraldhttp.ReportConfig) *reportEnv {
	return newReportEnvWith(t, edge, ingest.Config{}, nil)
}

// newReportEnvWith also takes the intake's config, and a store wrapper.
func newReportEnvWith(t testing.TB, edge heraldhttp.ReportConfig, cfg ingest.Config, wrap func(herald.Store) herald.Store) *reportEnv {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var store herald.Store = s
	if wrap != nil {
		store = wrap(s)
	}
	e := &reportEnv{t: t, store: store, reg: prometheus.NewRegistry(), clock: &repClock{}}
	e.clock.ns.Store(repNow.UnixNano())
	if edge.Secret == nil && edge.Tokens == nil {
		edge.Secret, edge.Tokens = []byte(repSecret), []string{repTokenA, repTokenB}
	}
	cfg.Now = e.clock.now
	in, err := ingest.New(cfg, store, nil, e.reg)
	if err != nil {
		t.Fatal(err)
	}
	api, err := heraldhttp.NewServer(heraldhttp.ServerConfig{Store: store, AdminTokens: []string{tokenA},
		Registry: e.reg, Now: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.HandleReports(edge, in); err != nil {
		t.Fatal(err)
	}
	if err := in.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.in, e.srv = in, httptest.NewServer(api.Handler())
	t.Cleanup(func() {
		e.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := in.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return e
}

type reportResponse struct {
	status int
	header http.Header
	body   string
}

// post sends body with the given headers (name, value pairs); without any
// it signs the request with the secret, in hex and ms.
func (e *reportEnv) post(path string, body []byte, header ...string) reportResponse {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if len(header) == 0 {
		header = signed(e.clock.now())
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reportResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// signed returns the signature headers for a timestamp in ms, hex-encoded.
func signed(at time.Time) []string {
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	return []string{infobank.HeaderTimestamp, ts, infobank.HeaderSignature, infobank.Sign([]byte(repSecret), ts)}
}

func signedWith(ts string, encode func([]byte) string) []string {
	sig, _ := hex.DecodeString(infobank.Sign([]byte(repSecret), ts))
	return []string{infobank.HeaderTimestamp, ts, infobank.HeaderSignature, encode(sig)}
}

var (
	hexUpper = func(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }
	b64      = base64.StdEncoding.EncodeToString
)

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

func wantReportStatus(t testing.TB, got reportResponse, status int) {
	t.Helper()
	if got.status != status {
		t.Fatalf("status %d, want %d (body %s)", got.status, status, got.body)
	}
}

// bizgo is a report body in the Bizgo shape, sent 2 seconds before at.
func bizgo(msgKey, ref, service, code string, at time.Time) []byte {
	return infobank.EncodeReport(herald.Report{MsgKey: msgKey, Ref: ref, ServiceType: service, MsgType: "AT",
		SendTime: at.Add(-2 * time.Second), ReportTime: at, ReportType: "0", Code: code, Text: "report " + code})
}

func TestReportAuth(t *testing.T) {
	t.Parallel()
	e := newReportEnv(t, heraldhttp.ReportConfig{})
	now := e.clock.now()
	ms := strconv.FormatInt(now.UnixMilli(), 10)
	cases := []struct {
		name   string
		header []string
		want   int
	}{
		{"no credentials", []string{"X-Nothing", "1"}, 401},
		{"bad token", bearer("report-token-c-0123456789"), 401},
		{"token without scheme", []string{"Authorization", repTokenA}, 401},
		{"bad signature", []string{infobank.HeaderTimestamp, ms, infobank.HeaderSignature, infobank.Sign([]byte("other repSecret"), ms)}, 401},
		{"signature without timestamp", []string{infobank.HeaderSignature, infobank.Sign([]byte(repSecret), ms)}, 401},
		{"stale timestamp", signed(now.Add(-6 * time.Minute)), 401},
		{"future timestamp", signed(now.Add(6 * time.Minute)), 401},
		{"malformed timestamp", signedWith("12:00", hexUpper), 401},
		{"signature of another timestamp", []string{infobank.HeaderTimestamp, ms, infobank.HeaderSignature, infobank.Sign([]byte(repSecret), ms+"1")}, 401},
		{"first token", bearer(repTokenA), 200},
		{"second token", bearer(repTokenB), 200},
		{"lower-case scheme", []string{"Authorization", "bearer " + repTokenA}, 200},
		{"hex signature, ms", signed(now), 200},
		{"hex upper-case signature", signedWith(ms, hexUpper), 200},
		{"base64 signature", signedWith(ms, b64), 200},
		{"timestamp in seconds", signedWith(strconv.FormatInt(now.Unix(), 10), b64), 200},
		{"timestamp 4 minutes old", signed(now.Add(-4 * time.Minute)), 200},
		{"bad token, good signature", append(bearer("nope-nope-nope-nope"), signed(now)...), 200},
		{"good token, bad signature", append(bearer(repTokenB), infobank.HeaderTimestamp, "x", infobank.HeaderSignature, "y"), 200},
	}
	var unauthorized string
	for i, c := range cases {
		got := e.post(heraldhttp.PathReports, bizgo("AUTH"+strconv.Itoa(i), "", "ALIMTALK", "10000", now), c.header...)
		if got.status != c.want {
			t.Errorf("%s: status %d, want %d (%s)", c.name, got.status, c.want, got.body)
		}
		if got.status == 401 {
			// Every refusal is the same: nothing tells which part was wrong.
			if unauthorized == "" {
				unauthorized = got.body
			}
			if got.body != unauthorized || got.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: 401 body %s (first was %s), WWW-Authenticate %q", c.name, got.body, unauthorized,
					got.header.Get("WWW-Authenticate"))
			}
		}
	}
	if !strings.Contains(unauthorized, `"code":"unauthorized"`) {
		t.Fatalf("401 body %s", unauthorized)
	}
}

func TestReportAuthTokensOnly(t *testing.T) {
	t.Parallel()
	e := newReportEnv(t, heraldhttp.ReportConfig{Tokens: []string{repTokenA}})
	wantReportStatus(t, e.post(heraldhttp.PathReports, bizgo("T1", "", "ALIMTALK", "10000", repNow), signed(repNow)...), 401)
	wantReportStatus(t, e.post(heraldhttp.PathReports, bizgo("T1", "", "ALIMTALK", "10000", repNow), bearer(repTokenA)...), 200)
}

// reportErrorBody is the JSON error shape of the admin API.
type reportErrorBody struct {
	Error struct {
		Code, Message, Field string
	}
}

func TestReportValidation(t *testing.T) {
	t.Parallel()
	e := newReportEnv(t, heraldhttp.ReportConfig{})
	valid := string(bizgo("V1", "h1-1", "ALIMTALK", "10000", repNow))
	cases := []struct {
		name, body string
		want       int
		field      string
	}{
		{"not JSON", `{"msgKey": `, 400, "body"},
		{"not an object", `[1,2]`, 400, "body"},
		{"empty", ``, 400, "body"},
		{"missing msgKey", `{"serviceType":"ALIMTALK","reportTime":"2026-11-25T10:30:02.456+09:00","reportType":"0","reportCode":"10000"}`, 400, "msgKey"},
		{"missing reportCode", `{"msgKey":"K","serviceType":"ALIMTALK","reportTime":"2026-11-25T10:30:02.456+09:00","reportType":"0"}`, 400, "reportCode"},
		{"bad reportTime", strings.Replace(valid, `"reportTime":"`, `"reportTime":"yesterday`, 1), 400, "reportTime"},
		{"msgKey not a string", `{"msgKey":12,"serviceType":"ALIMTALK","reportTime":"2026-11-25T10:30:02.456+09:00","reportType":"0","reportCode":"10000"}`, 400, "msgKey"},
		{"NUL in msgKey", strings.Replace(valid, `"msgKey":"V1"`, `"msgKey":"V\u00001"`, 1), 400, "msgKey"},
		{"NUL in text", strings.Replace(valid, `"reportText":"`, `"reportText":"\u0000`, 1), 400, "reportText"},
		{"msgKey too long", strings.Replace(valid, `"msgKey":"V1"`, `"msgKey":"`+strings.Repeat("k", 201)+`"`, 1), 400, "msgKey"},
		{"seed without resultCode", `{"messageId":"h1-1","reportTime":"2024-11-25 11:12:12"}`, 400, "resultCode"},
		{"seed with a control character", `{"messageId":"h1\n1","resultCode":"SUC","reportTime":"2024-11-25 11:12:12"}`, 400, "messageId"},
		{"unknown fields ignored", strings.Replace(valid, `{`, `{"carrier":"SKT","extra":{"a":[1]},`, 1), 200, ""},
		{"long text is cut, not refused", strings.Replace(valid, `"reportText":"`, `"reportText":"`+strings.Repeat("가", 2000), 1), 200, ""},
	}
	for _, c := range cases {
		got := e.post(heraldhttp.PathReports, []byte(c.body))
		if got.status != c.want {
			t.Errorf("%s: status %d, want %d (%s)", c.name, got.status, c.want, got.body)
			continue
		}
		if c.want != 400 {
			continue
		}
		var eb reportErrorBody
		if err := json.Unmarshal([]byte(got.body), &eb); err != nil || eb.Error.Code != "invalid" ||
			eb.Error.Field != c.field || eb.Error.Message == "" {
			t.Errorf("%s: body %s, want code invalid naming field %q", c.name, got.body, c.field)
		}
	}
}

func TestReportBodyAndMediaType(t *testing.T) {
	t.Parallel()
	e := newReportEnv(t, heraldhttp.ReportConfig{})
	body := bizgo("M1", "", "ALIMTALK", "10000", repNow)
	for ct, want := range map[string]int{
		"application/json; charset=utf-8":   200,
		"Application/JSON; charset=UTF-8":   200,
		"text/plain":                        415,
		"application/x-www-form-urlencoded": 415,
		"application/json; charset=latin1":  415,
		"application/json; charset":         415,
	} {
		got := e.post(heraldhttp.PathReports, body, append(bearer(repTokenA), "Content-Type", ct)...)
		if got.status != want {
			t.Errorf("Content-Type %q: status %d, want %d", ct, got.status, want)
		}
		if want == 415 && !strings.Contains(got.body, `"code":"unsupported_media_type"`) {
			t.Errorf("Content-Type %q: body %s", ct, got.body)
		}
	}
	// Over 64 KiB: refused by its announced length, and while reading when
	// the length is not announced.
	big := []byte(`{"msgKey":"` + strings.Repeat("x", heraldhttp.MaxReportBytes) + `"}`)
	got := e.post(heraldhttp.PathReports, big, bearer(repTokenA)...)
	wantReportStatus(t, got, 413)
	if !strings.Contains(got.body, `"code":"too_large"`) {
		t.Fatalf("413 body %s", got.body)
	}
	for _, header := range [][]string{nil, bearer(repTokenA)} {
		// A reader without Len makes the client send it chunked.
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+heraldhttp.PathReports, struct{ io.Reader }{bytes.NewReader(big)})
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := map[bool]int{true: 413, false: 401}[header != nil]; resp.StatusCode != want {
			t.Fatalf("chunked body: status %d, want %d", resp.StatusCode, want)
		}
	}
}

func TestReportAnswers(t *testing.T) {
	t.Parallel()
	e := newReportEnv(t, heraldhttp.ReportConfig{})
	got := e.post(heraldhttp.PathReports, bizgo(`K"1`, "", "ALIMTALK", "10000", repNow))
	wantReportStatus(t, got, 200)
	if got.body != `{"msgKey":"K\"1"}` || !strings.HasPrefix(got.header.Get("Content-Type"), "application/json") {
		t.Fatalf("Bizgo answer %s (%s)", got.body, got.header.Get("Content-Type"))
	}
	seed := infobank.EncodeSeedReport(herald.Report{MsgKey: "h1-1", ReportTime: repNow, Code: "10000"})
	for _, path := range []string{heraldhttp.PathReports, heraldhttp.PathSeedReports} {
		got := e.post(path, seed, bearer(repTokenA)...)
		wantReportStatus(t, got, 200)
		if got.body != `{"code":"0000","messageId":"h1-1"}` {
			t.Fatalf("seed answer on %s: %s", path, got.body)
		}
	}
	got = e.post(heraldhttp.PathSeedReports, bizgo("K2", "", "SMS", "10000", repNow))
	if got.status != 200 || got.body != `{"msgKey":"K2"}` {
		t.Fatalf("Bizgo body on the seed path: %d %s", got.status, got.body)
	}
}
