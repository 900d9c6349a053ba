package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/ingest"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/sqlite"
)

// Credentials of the tests; two tokens are valid at once, as in a rotation.
const (
	secret    = "report-secret-0123456789"
	tokenA    = "report-token-a-0123456789"
	tokenB    = "report-token-b-0123456789"
	adminTok  = "admin-token-0123456789ab"
	maxWait   = 30 * time.Second // for what must happen soon; generous for a loaded machine
	kakaoFail = "63019"
)

var testNow = time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)

// engines are the stores every behaviour test runs on.
var engines = map[string]func(testing.TB) herald.Store{
	"sqlite":   newSQLite,
	"postgres": newPostgres,
}

func newSQLite(t testing.TB) herald.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newPostgres(t testing.TB) herald.Store {
	s, err := postgres.Open(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// clock is a settable test clock.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

// env is one webhook mounted on the admin API, as herald serve does it.
type env struct {
	t     testing.TB
	store herald.Store
	in    *ingest.Ingest
	reg   *prometheus.Registry
	srv   *httptest.Server
	clock *clock
}

// newEnv serves s with cfg behind the webhook edge, with the tests'
// secret and tokens; Now defaults to the tests' clock.
func newEnv(t testing.TB, s herald.Store, cfg ingest.Config) *env {
	t.Helper()
	return newEdgeEnv(t, s, cfg, heraldhttp.ReportConfig{})
}

// newEdgeEnv is newEnv with an edge configuration; Secret and Tokens
// default to the tests'.
func newEdgeEnv(t testing.TB, s herald.Store, cfg ingest.Config, edge heraldhttp.ReportConfig) *env {
	t.Helper()
	e := &env{t: t, store: s, reg: prometheus.NewRegistry(), clock: newClock(testNow)}
	if edge.Secret == nil && edge.Tokens == nil {
		edge.Secret, edge.Tokens = []byte(secret), []string{tokenA, tokenB}
	}
	if cfg.Now == nil {
		cfg.Now = e.clock.now
	}
	in, err := ingest.New(cfg, s, nil, e.reg)
	if err != nil {
		t.Fatal(err)
	}
	api, err := heraldhttp.NewServer(heraldhttp.ServerConfig{Store: s, AdminTokens: []string{adminTok}, Registry: e.reg,
		Now: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.HandleReports(edge, in); err != nil {
		t.Fatal(err)
	}
	if err := in.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.in = in
	e.srv = httptest.NewServer(api.Handler())
	t.Cleanup(func() {
		e.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), maxWait)
		defer cancel()
		if err := in.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return e
}

// response is a finished request.
type response struct {
	status int
	header http.Header
	body   string
}

// post sends body to path with the given headers (name, value pairs);
// without any it signs the request with the secret, in hex and ms.
func (e *env) post(path string, body []byte, header ...string) response {
	e.t.Helper()
	resp, err := e.do(path, body, header...)
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	return resp
}

func (e *env) do(path string, body []byte, header ...string) (response, error) {
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		return response{}, err
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
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}, err
}

// signed returns the signature headers for a timestamp in ms, hex-encoded.
func signed(at time.Time) []string {
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	return []string{infobank.HeaderTimestamp, ts, infobank.HeaderSignature, infobank.Sign([]byte(secret), ts)}
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

func wantStatus(t testing.TB, got response, status int) {
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

// accepted seeds a running campaign of n recipients, sent and accepted
// with msgKeys "<prefix><id>".
func accepted(t testing.TB, s herald.Store, n int, prefix string) []herald.Recipient {
	t.Helper()
	rs := sending(t, s, n)
	for i := 0; i < len(rs); i += seedChunk {
		chunk := rs[i:min(len(rs), i+seedChunk)]
		ups := make([]herald.RecipientUpdate, len(chunk))
		for j, r := range chunk {
			chunk[j].MsgKey, chunk[j].State = prefix+strconv.FormatInt(r.ID, 10), herald.RecipientAccepted
			ups[j] = herald.RecipientUpdate{ID: r.ID, Owner: "w", Token: r.ClaimToken, State: herald.RecipientAccepted,
				MsgKey: chunk[j].MsgKey, ResultCode: "A000", At: testNow}
		}
		if err := s.RecordOutcomes(context.Background(), ups); err != nil {
			t.Fatal(err)
		}
	}
	return rs
}

const seedChunk = 5000

// sending seeds a running campaign of n recipients claimed by owner "w",
// in chunks so that n may be large.
func sending(t testing.TB, s herald.Store, n int) []herald.Recipient {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i += seedChunk {
		ms := make([]herald.Member, 0, seedChunk)
		for j := i; j < min(n, i+seedChunk); j++ {
			ms = append(ms, herald.Member{ID: fmt.Sprintf("m%08d", j), Phone: fmt.Sprintf("010%08d", j),
				Status: herald.MemberActive, UpdatedAt: testNow})
		}
		if _, err := s.UpsertMembers(ctx, ms); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateTemplate(ctx, herald.Template{Code: "T", SenderKey: "sk", Text: "hello #{name}",
		Status: herald.TemplateApproved, CreatedAt: testNow}); err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateCampaign(ctx, herald.Campaign{Name: "c", TemplateCode: "T", Audience: herald.Audience{All: true},
		TPS: 100, StartAt: testNow, State: herald.CampaignScheduled, CreatedAt: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireCampaignLease(ctx, "prep", testNow, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PrepareRecipients(ctx, c.ID, "prep", testNow); err != nil {
		t.Fatal(err)
	}
	out := make([]herald.Recipient, 0, n)
	for len(out) < n {
		rs, err := s.ClaimRecipients(ctx, herald.ClaimParams{CampaignID: c.ID, Limit: seedChunk, Owner: "w",
			Now: testNow, LeaseUntil: testNow.Add(time.Hour)})
		if err != nil || len(rs) == 0 {
			t.Fatalf("claimed %d recipients: %v", len(out), err)
		}
		out = append(out, rs...)
	}
	return out
}

// record records msgKey for a recipient that sending returned, as the
// dispatcher does once the provider accepted it.
func record(t testing.TB, s herald.Store, r herald.Recipient, msgKey string) {
	t.Helper()
	err := s.RecordOutcomes(context.Background(), []herald.RecipientUpdate{{ID: r.ID, Owner: "w", Token: r.ClaimToken,
		State: herald.RecipientAccepted, MsgKey: msgKey, ResultCode: "A000", At: testNow}})
	if err != nil {
		t.Fatal(err)
	}
}

// metric reads a counter or gauge from the env's registry; label is the
// value of its only label, or "".
func metric(t testing.TB, e *env, name, label string) float64 {
	t.Helper()
	families, err := e.reg.Gather()
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

// reread returns the current row of recipient r.
func reread(t testing.TB, s herald.Store, r herald.Recipient) herald.Recipient {
	t.Helper()
	rows, err := s.ListRecipients(context.Background(), r.CampaignID, r.ID-1, 1)
	if err != nil || len(rows) != 1 {
		t.Fatalf("recipient %d: %v %+v", r.ID, err, rows)
	}
	return rows[0]
}

// gateStore blocks ApplyReports until the gate opens, telling entered
// when a call arrives and marking returned before it returns.
type gateStore struct {
	herald.Store
	gate     chan struct{}
	entered  chan int // batch size
	returned atomic.Int64
	fail     error
}

func newGateStore(s herald.Store) *gateStore {
	return &gateStore{Store: s, gate: make(chan struct{}), entered: make(chan int, 100)}
}

func (g *gateStore) ApplyReports(ctx context.Context, rs []herald.Report, now time.Time) (herald.ReportResult, error) {
	g.entered <- len(rs)
	<-g.gate
	res, err := g.Store.ApplyReports(ctx, rs, now)
	if g.fail != nil {
		err = g.fail
	}
	g.returned.Add(int64(len(rs)))
	return res, err
}

// open lets every call through from now on.
func (g *gateStore) open() { close(g.gate) }

func waitFor[T any](t testing.TB, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(maxWait):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// eventually polls cond, which observes a state that is reached by other
// goroutines and then holds (no guess of how long it takes).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(maxWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// async posts in the background; the response arrives on the channel,
// with status 0 and the error in body when the request failed.
func (e *env) async(path string, body []byte, header ...string) <-chan response {
	c := make(chan response, 1)
	go func() {
		resp, err := e.do(path, body, header...)
		if err != nil {
			resp = response{body: err.Error()}
		}
		c <- resp
	}()
	return c
}
