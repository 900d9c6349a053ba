// Package reporttest serves the report webhook as herald serve mounts it
// (the admin API's server over a real ingest) for the tests of http's edge
// and of ingest's behaviour, with the tests' credentials, a settable clock
// and signed posts.
package reporttest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/ingest"
)

// Credentials of the tests; two report tokens are valid at once, as in a
// rotation.
const (
	Secret     = "report-secret-0123456789"
	TokenA     = "report-token-a-0123456789"
	TokenB     = "report-token-b-0123456789"
	AdminToken = "admin-token-0123456789ab"
	// MaxWait bounds what must happen soon; generous for a loaded machine.
	MaxWait = 30 * time.Second
)

// Epoch is where every Env's clock starts.
var Epoch = time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)

// Clock is a settable test clock.
type Clock struct{ ns atomic.Int64 }

func NewClock(t time.Time) *Clock {
	c := &Clock{}
	c.Set(t)
	return c
}

func (c *Clock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *Clock) Set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *Clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// Env is one webhook mounted on the admin API, over a started ingest.
type Env struct {
	T     testing.TB
	Store herald.Store
	In    *ingest.Ingest
	Reg   *prometheus.Registry
	Srv   *httptest.Server
	Clock *Clock
}

// New serves s with cfg behind the webhook edge; the edge's Secret and
// Tokens default to the tests', cfg.Now to the Env's clock. The server
// closes and the ingest stops when the test ends.
func New(t testing.TB, s herald.Store, cfg ingest.Config, edge heraldhttp.ReportConfig) *Env {
	t.Helper()
	return NewLogged(t, s, cfg, edge, nil)
}

// NewLogged is New with the ingest and the server logging to log.
func NewLogged(t testing.TB, s herald.Store, cfg ingest.Config, edge heraldhttp.ReportConfig, log *slog.Logger) *Env {
	t.Helper()
	e := &Env{T: t, Store: s, Reg: prometheus.NewRegistry(), Clock: NewClock(Epoch)}
	if edge.Secret == nil && edge.Tokens == nil {
		edge.Secret, edge.Tokens = []byte(Secret), []string{TokenA, TokenB}
	}
	if cfg.Now == nil {
		cfg.Now = e.Clock.Now
	}
	in, err := ingest.New(cfg, s, log, e.Reg)
	if err != nil {
		t.Fatal(err)
	}
	api, err := heraldhttp.NewServer(heraldhttp.ServerConfig{Store: s, AdminTokens: []string{AdminToken}, Registry: e.Reg,
		Now: e.Clock.Now, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.HandleReports(edge, in); err != nil {
		t.Fatal(err)
	}
	if err := in.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.In, e.Srv = in, httptest.NewServer(api.Handler())
	t.Cleanup(func() {
		e.Srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), MaxWait)
		defer cancel()
		if err := in.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return e
}

// Response is a finished request.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// Post sends body to path with the given headers (name, value pairs);
// without any it signs the request with the secret, in hex and ms.
func (e *Env) Post(path string, body []byte, header ...string) Response {
	e.T.Helper()
	resp, err := e.Do(path, body, header...)
	if err != nil {
		e.T.Fatalf("POST %s: %v", path, err)
	}
	return resp
}

// Do is Post that returns the error instead of failing the test.
func (e *Env) Do(path string, body []byte, header ...string) (Response, error) {
	req, err := http.NewRequest(http.MethodPost, e.Srv.URL+path, bytes.NewReader(body))
	if err != nil {
		return Response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if len(header) == 0 {
		header = Signed(e.Clock.Now())
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.Srv.Client().Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}, err
}

// Async posts in the background; the response arrives on the channel,
// with Status 0 and the error in Body when the request failed.
func (e *Env) Async(path string, body []byte, header ...string) <-chan Response {
	c := make(chan Response, 1)
	go func() {
		resp, err := e.Do(path, body, header...)
		if err != nil {
			resp = Response{Body: err.Error()}
		}
		c <- resp
	}()
	return c
}

// Signed returns the signature headers for a timestamp in ms, hex-encoded.
func Signed(at time.Time) []string {
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	return []string{infobank.HeaderTimestamp, ts, infobank.HeaderSignature, infobank.Sign([]byte(Secret), ts)}
}

// Bearer returns the header of a bearer token.
func Bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// WantStatus fails the test unless got has status.
func WantStatus(t testing.TB, got Response, status int) {
	t.Helper()
	if got.Status != status {
		t.Fatalf("status %d, want %d (body %s)", got.Status, status, got.Body)
	}
}

// Bizgo is a report body in the Bizgo shape, sent 2 seconds before at.
func Bizgo(msgKey, ref, service, code string, at time.Time) []byte {
	return infobank.EncodeReport(herald.Report{MsgKey: msgKey, Ref: ref, ServiceType: service, MsgType: "AT",
		SendTime: at.Add(-2 * time.Second), ReportTime: at, ReportType: "0", Code: code, Text: "report " + code})
}

// Metric reads a counter or gauge from reg; label is the
// value of its only label, or "".
func Metric(t testing.TB, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if label != "" && (len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != label) {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}
