package http_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/ingest"
	"github.com/heraldhq/herald/internal/reporttest"
	"github.com/heraldhq/herald/sqlite"
)

// The report webhook's edge, in front of a real ingest on SQLite.

// reportEnv is reporttest's, with the edge tests' own helpers.
type reportEnv struct{ *reporttest.Env }

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
	return &reportEnv{reporttest.New(t, store, cfg, edge)}
}

func signedWith(ts string, encode func([]byte) string) []string {
	sig, _ := hex.DecodeString(infobank.Sign([]byte(reporttest.Secret), ts))
	return []string{infobank.HeaderTimestamp, ts, infobank.HeaderSignature, encode(sig)}
}

var (
	hexUpper = func(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }
	b64      = base64.StdEncoding.EncodeToString
)

func TestReportAuth(t *testing.T) {
	t.Parallel()
	e := newReportEnv(t, heraldhttp.ReportConfig{})
	now := e.Clock.Now()
	ms := strconv.FormatInt(now.UnixMilli(), 10)
	cases := []struct {
		name   string
		header []string
		want   int
	}{
		{"no credentials", []string{"X-Nothing", "1"}, 401},
		{"bad token", reporttest.Bearer("report-token-c-0123456789"), 401},
		{"token without scheme", []string{"Authorization", reporttest.TokenA}, 401},
		{"bad signature", []string{infobank.HeaderTimestamp, ms, infobank.HeaderSignature, infobank.Sign([]byte("another-secret-0123456789"), ms)}, 401},
		{"signature without timestamp", []string{infobank.HeaderSignature, infobank.Sign([]byte(reporttest.Secret), ms)}, 401},
		{"stale timestamp", reporttest.Signed(now.Add(-6 * time.Minute)), 401},
		{"future timestamp", reporttest.Signed(now.Add(6 * time.Minute)), 401},
		{"malformed timestamp", signedWith("12:00", hexUpper), 401},
		{"signature of another timestamp", []string{infobank.HeaderTimestamp, ms, infobank.HeaderSignature, infobank.Sign([]byte(reporttest.Secret), ms+"1")}, 401},
		{"first token", reporttest.Bearer(reporttest.TokenA), 200},
		{"second token", reporttest.Bearer(reporttest.TokenB), 200},
		{"lower-case scheme", []string{"Authorization", "bearer " + reporttest.TokenA}, 200},
		{"hex signature, ms", reporttest.Signed(now), 200},
		{"hex upper-case signature", signedWith(ms, hexUpper), 200},
		{"base64 signature", signedWith(ms, b64), 200},
		{"timestamp in seconds", signedWith(strconv.FormatInt(now.Unix(), 10), b64), 200},
		{"timestamp 4 minutes old", reporttest.Signed(now.Add(-4 * time.Minute)), 200},
		{"bad token, good signature", append(reporttest.Bearer("nope-nope-nope-nope"), reporttest.Signed(now)...), 200},
		{"good token, bad signature", append(reporttest.Bearer(reporttest.TokenB), infobank.HeaderTimestamp, "x", infobank.HeaderSignature, "y"), 200},
	}
	var unauthorized string
	for i, c := range cases {
		got := e.Post(heraldhttp.PathReports, reporttest.Bizgo("AUTH"+strconv.Itoa(i), "", "ALIMTALK", "10000", now), c.header...)
		if got.Status != c.want {
			t.Errorf("%s: status %d, want %d (%s)", c.name, got.Status, c.want, got.Body)
		}
		if got.Status == 401 {
			// Every refusal is the same: nothing tells which part was wrong.
			if unauthorized == "" {
				unauthorized = got.Body
			}
			if got.Body != unauthorized || got.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: 401 body %s (first was %s), WWW-Authenticate %q", c.name, got.Body, unauthorized,
					got.Header.Get("WWW-Authenticate"))
			}
		}
	}
	if !strings.Contains(unauthorized, `"code":"unauthorized"`) {
		t.Fatalf("401 body %s", unauthorized)
	}
}

func TestReportAuthTokensOnly(t *testing.T) {
	t.Parallel()
	e := newReportEnv(t, heraldhttp.ReportConfig{Tokens: []string{reporttest.TokenA}})
	reporttest.WantStatus(t, e.Post(heraldhttp.PathReports, reporttest.Bizgo("T1", "", "ALIMTALK", "10000", reporttest.Epoch), reporttest.Signed(reporttest.Epoch)...), 401)
	reporttest.WantStatus(t, e.Post(heraldhttp.PathReports, reporttest.Bizgo("T1", "", "ALIMTALK", "10000", reporttest.Epoch), reporttest.Bearer(reporttest.TokenA)...), 200)
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
	valid := string(reporttest.Bizgo("V1", "h1-1", "ALIMTALK", "10000", reporttest.Epoch))
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
		got := e.Post(heraldhttp.PathReports, []byte(c.body))
		if got.Status != c.want {
			t.Errorf("%s: status %d, want %d (%s)", c.name, got.Status, c.want, got.Body)
			continue
		}
		if c.want != 400 {
			continue
		}
		var eb reportErrorBody
		if err := json.Unmarshal([]byte(got.Body), &eb); err != nil || eb.Error.Code != "invalid" ||
			eb.Error.Field != c.field || eb.Error.Message == "" {
			t.Errorf("%s: body %s, want code invalid naming field %q", c.name, got.Body, c.field)
		}
	}
}

func TestReportBodyAndMediaType(t *testing.T) {
	t.Parallel()
	e := newReportEnv(t, heraldhttp.ReportConfig{})
	body := reporttest.Bizgo("M1", "", "ALIMTALK", "10000", reporttest.Epoch)
	for ct, want := range map[string]int{
		"application/json; charset=utf-8":   200,
		"Application/JSON; charset=UTF-8":   200,
		"text/plain":                        415,
		"application/x-www-form-urlencoded": 415,
		"application/json; charset=latin1":  415,
		"application/json; charset":         415,
	} {
		got := e.Post(heraldhttp.PathReports, body, append(reporttest.Bearer(reporttest.TokenA), "Content-Type", ct)...)
		if got.Status != want {
			t.Errorf("Content-Type %q: status %d, want %d", ct, got.Status, want)
		}
		if want == 415 && !strings.Contains(got.Body, `"code":"unsupported_media_type"`) {
			t.Errorf("Content-Type %q: body %s", ct, got.Body)
		}
	}
	// Over 64 KiB: refused by its announced length, and while reading when
	// the length is not announced.
	big := []byte(`{"msgKey":"` + strings.Repeat("x", heraldhttp.MaxReportBytes) + `"}`)
	got := e.Post(heraldhttp.PathReports, big, reporttest.Bearer(reporttest.TokenA)...)
	reporttest.WantStatus(t, got, 413)
	if !strings.Contains(got.Body, `"code":"too_large"`) {
		t.Fatalf("413 body %s", got.Body)
	}
	for _, header := range [][]string{nil, reporttest.Bearer(reporttest.TokenA)} {
		// A reader without Len makes the client send it chunked.
		req, _ := http.NewRequest(http.MethodPost, e.Srv.URL+heraldhttp.PathReports, struct{ io.Reader }{bytes.NewReader(big)})
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := e.Srv.Client().Do(req)
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
	got := e.Post(heraldhttp.PathReports, reporttest.Bizgo(`K"1`, "", "ALIMTALK", "10000", reporttest.Epoch))
	reporttest.WantStatus(t, got, 200)
	if got.Body != `{"msgKey":"K\"1"}` || !strings.HasPrefix(got.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("Bizgo answer %s (%s)", got.Body, got.Header.Get("Content-Type"))
	}
	seed := infobank.EncodeSeedReport(herald.Report{MsgKey: "h1-1", ReportTime: reporttest.Epoch, Code: "10000"})
	for _, path := range []string{heraldhttp.PathReports, heraldhttp.PathSeedReports} {
		got := e.Post(path, seed, reporttest.Bearer(reporttest.TokenA)...)
		reporttest.WantStatus(t, got, 200)
		if got.Body != `{"code":"0000","messageId":"h1-1"}` {
			t.Fatalf("seed answer on %s: %s", path, got.Body)
		}
	}
	got = e.Post(heraldhttp.PathSeedReports, reporttest.Bizgo("K2", "", "SMS", "10000", reporttest.Epoch))
	if got.Status != 200 || got.Body != `{"msgKey":"K2"}` {
		t.Fatalf("Bizgo body on the seed path: %d %s", got.Status, got.Body)
	}
}
