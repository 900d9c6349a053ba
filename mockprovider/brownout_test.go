package mockprovider_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/mockprovider"
)

func TestParseBrownout(t *testing.T) {
	t.Parallel()
	got, err := mockprovider.ParseBrownout(" hold=15s, refuse=10s ,429=1m,OK=500ms")
	want := []mockprovider.Phase{
		{Kind: "hold", Duration: 15 * time.Second}, {Kind: "refuse", Duration: 10 * time.Second},
		{Kind: "429", Duration: time.Minute}, {Kind: "ok", Duration: 500 * time.Millisecond},
	}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
	if s := mockprovider.FormatBrownout(got); s != "hold=15s,refuse=10s,429=1m0s,ok=500ms" {
		t.Errorf("format = %q", s)
	}
	for _, empty := range []string{"", "  ", "off"} {
		if got, err := mockprovider.ParseBrownout(empty); err != nil || got != nil {
			t.Errorf("%q: %v, %v", empty, got, err)
		}
	}
	bad := map[string]string{
		"hold":             "want KIND=DURATION",
		"hold=15s,":        `phase 2 ""`,
		"hold=fast":        `bad duration "fast"`,
		"stall=1s":         `unknown kind "stall"`,
		"refuse=0s":        "must be positive",
		"429=-1s":          "must be positive",
		"hold=1s;refuse=1": "bad duration",
	}
	for spec, msg := range bad {
		_, err := mockprovider.ParseBrownout(spec)
		var ie *herald.InvalidError
		if !errors.As(err, &ie) || ie.Field != "brownout" || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: err = %v, want an error on brownout containing %q", spec, err, msg)
		}
	}
}

func TestConfigValidateBrownout(t *testing.T) {
	t.Parallel()
	cases := map[string]func(*mockprovider.Config){
		"brownout":      func(c *mockprovider.Config) { c.Brownout = []mockprovider.Phase{{Kind: "nap", Duration: time.Second}} },
		"brownoutAfter": func(c *mockprovider.Config) { c.BrownoutAfter = -time.Second },
		"brownoutFrom":  func(c *mockprovider.Config) { c.BrownoutFrom = "noon" },
		"holdAnswer": func(c *mockprovider.Config) {
			c.Brownout, c.HoldAnswer = []mockprovider.Phase{{Kind: "hold", Duration: time.Second}}, 0
		},
	}
	for field, edit := range cases {
		cfg := mockprovider.DefaultConfig()
		edit(&cfg)
		var ie *herald.InvalidError
		if err := cfg.Validate(); !errors.As(err, &ie) || ie.Field != field {
			t.Errorf("%s: err = %v", field, err)
		}
	}
}

// listenMock serves a started mock on its own Listener, as the command
// does, so that refuse phases really shut the port.
func listenMock(t *testing.T, edit func(*mockprovider.Config)) (*mockprovider.Server, *mockprovider.Listener) {
	t.Helper()
	cfg := mockprovider.DefaultConfig()
	cfg.APIKey, cfg.LogEvery, cfg.TPS = testKey, 0, 10_000
	if edit != nil {
		edit(&cfg)
	}
	m, err := mockprovider.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := mockprovider.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.Attach(ln)
	srv := &http.Server{Handler: m}
	go srv.Serve(ln)
	m.Start(context.Background())
	t.Cleanup(func() {
		stop(t, m)
		srv.Close()
	})
	return m, ln
}

// brownBody is a send of n recipients numbered from base, keyed by base.
func brownBody(n, base int) string {
	ds := make([]string, n)
	for i := range ds {
		ds[i] = fmt.Sprintf(`{"to":"010%08d","ref":"b-%d"}`, base+i, base+i)
	}
	return `{"destinations":[` + strings.Join(ds, ",") + `],"messageFlow":[{"alimtalk":{"senderKey":"SK","templateCode":"ORDER","msgType":"AT","text":"Hello"}}],` +
		fmt.Sprintf(`"ref":"camp","idempotencyKey":"k-%d","idempotencyTtl":3600}`, base)
}

func phaseNow(m *mockprovider.Server) string { return m.Stats().BrownoutPhase }

// TestBrownoutRefuse: a refuse phase shuts the port (a connect is
// ECONNREFUSED), closes the open connections, and listens again on the
// same address afterwards.
func TestBrownoutRefuse(t *testing.T) {
	t.Parallel()
	m, ln := listenMock(t, nil)
	url := "http://" + ln.Addr().String()
	if status, _ := post(t, url, testKey, brownBody(1, 0)); status != 200 {
		t.Fatalf("before: %d", status)
	}
	open, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	time.Sleep(50 * time.Millisecond) // for the server to accept it
	if err := m.StartBrownout([]mockprovider.Phase{{Kind: mockprovider.PhaseRefuse, Duration: 600 * time.Millisecond}}, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return phaseNow(m) == mockprovider.PhaseRefuse })
	_, err = net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial during refuse: %v, want ECONNREFUSED", err)
	}
	open.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := bufio.NewReader(open).ReadByte(); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the connection open before the phase: read = %v, want it closed", err)
	}
	waitFor(t, func() bool { return m.Stats().Brownout.State == "done" })
	status, env := post(t, url, testKey, brownBody(2, 10))
	if status != 200 || env.Data.Code != infobank.CodeSuccess {
		t.Fatalf("after the phase: %d %+v", status, env.Data)
	}
	st := m.Stats()
	ph := st.Brownout.Phases[0]
	if st.Accepted != 3 || ph.ConnsClosed < 1 || ph.Accepted != 0 || ph.Started == nil || ph.Ended == nil || st.BrownoutPhase != "" {
		t.Errorf("stats: accepted %d, phase %+v, now %q", st.Accepted, ph, st.BrownoutPhase)
	}
}

// TestBrownoutHold: a held send is accepted (and reported) at once; its
// answer comes after the hold, and a client that gives up first sees a
// timeout while the mock counts the send as accepted.
func TestBrownoutHold(t *testing.T) {
	t.Parallel()
	hook, got := receiver(t, ackMsgKey)
	const hold = 400 * time.Millisecond
	m := startMock(t, func(c *mockprovider.Config) {
		c.Reports, c.ReportURL, c.ReportDelay, c.HoldAnswer = mockprovider.ReportsWebhook, hook, 0, hold
	})
	if err := m.StartBrownout([]mockprovider.Phase{{Kind: mockprovider.PhaseHold, Duration: time.Minute}}, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return phaseNow(m.Server) == mockprovider.PhaseHold })
	began := time.Now()
	status, env := post(t, m.url, testKey, brownBody(2, 0))
	if took := time.Since(began); status != 200 || env.Data.Code != infobank.CodeSuccess || took < hold {
		t.Fatalf("held send: %d %+v after %s, want 200 A000 after %s", status, env.Data, took, hold)
	}
	for range 2 {
		next(t, got)
	}

	impatient := &http.Client{Timeout: 100 * time.Millisecond}
	req, _ := http.NewRequest(http.MethodPost, m.url+infobank.PathSend, strings.NewReader(brownBody(1, 100)))
	req.Header.Set("Authorization", testKey)
	_, err := impatient.Do(req)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("impatient client: %v, want a timeout", err)
	}
	r := next(t, got) // accepted before the hold: the report comes anyway
	if !strings.Contains(string(r.body), `"b-100"`) {
		t.Errorf("report of the timed-out send: %s", r.body)
	}
	waitFor(t, func() bool { return m.Stats().Brownout.Phases[0].HeldAbandoned == 1 })
	st := m.Stats()
	ph := st.Brownout.Phases[0]
	if st.Accepted != 3 || ph.Accepted != 3 || ph.Held != 2 || ph.Requests != 2 || st.BrownoutPhase != "hold" || st.Brownout.HoldAnswer != hold.String() {
		t.Errorf("stats: accepted %d, phase %+v", st.Accepted, ph)
	}
}

// TestBrownout429: a 429 phase accepts nothing and reports nothing.
func TestBrownout429(t *testing.T) {
	t.Parallel()
	hook, got := receiver(t, ackMsgKey)
	m := startMock(t, func(c *mockprovider.Config) {
		c.Reports, c.ReportURL, c.ReportDelay = mockprovider.ReportsWebhook, hook, 0
	})
	if err := m.StartBrownout([]mockprovider.Phase{{Kind: mockprovider.Phase429, Duration: time.Minute}}, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return phaseNow(m.Server) == mockprovider.Phase429 })
	for i := range 3 {
		status, env := post(t, m.url, testKey, brownBody(5, 10*i))
		if status != http.StatusTooManyRequests || env.Data == nil || env.Data.Code != infobank.CodeRateLimited {
			t.Fatalf("send in a 429 phase: %d %+v", status, env.Data)
		}
	}
	// The infobank client sees a retryable refusal, nothing taken.
	out := newClient(t, m.url).Send(t.Context(), batch(2, 500, "Hello"))
	if out[0].Kind != herald.RefusedRetryable {
		t.Errorf("client outcome = %+v, want refused-retryable", out[0])
	}
	select {
	case r := <-got:
		t.Fatalf("a report after a 429: %s", r.body)
	case <-time.After(200 * time.Millisecond):
	}
	st := m.Stats()
	ph := st.Brownout.Phases[0]
	if st.Accepted != 0 || st.UniqueRecipients != 0 || st.ReportsSent != 0 || ph.RateLimited != 17 || ph.Requests != 4 || ph.Accepted != 0 {
		t.Errorf("stats: accepted %d, unique %d, reports %d, phase %+v", st.Accepted, st.UniqueRecipients, st.ReportsSent, ph)
	}
	// Turning it off ends the phase at once.
	if err := m.StartBrownout(nil, 0); err != nil {
		t.Fatal(err)
	}
	if status, _ := post(t, m.url, testKey, brownBody(1, 900)); status != 200 {
		t.Errorf("after off: %d", status)
	}
}

// TestBrownoutConfiguredAfterFirstSend: a configured schedule waits for
// the first accepted send, then BrownoutAfter, then plays its phases.
func TestBrownoutConfiguredAfterFirstSend(t *testing.T) {
	t.Parallel()
	m := startMock(t, func(c *mockprovider.Config) {
		c.Brownout = []mockprovider.Phase{{Kind: mockprovider.Phase429, Duration: 300 * time.Millisecond}, {Kind: mockprovider.PhaseOK, Duration: 100 * time.Millisecond}}
		c.BrownoutAfter = 100 * time.Millisecond
	})
	time.Sleep(200 * time.Millisecond)
	if st := m.Stats(); st.Brownout == nil || st.Brownout.State != "waiting" || st.BrownoutPhase != "" {
		t.Fatalf("before any send: %+v", st.Brownout)
	}
	if status, _ := post(t, m.url, testKey, brownBody(1, 0)); status != 200 {
		t.Fatalf("first send: %d", status)
	}
	waitFor(t, func() bool { return phaseNow(m.Server) == mockprovider.Phase429 })
	if status, _ := post(t, m.url, testKey, brownBody(1, 1)); status != http.StatusTooManyRequests {
		t.Errorf("in the 429 phase: %d", status)
	}
	waitFor(t, func() bool { return phaseNow(m.Server) == mockprovider.PhaseOK })
	if status, _ := post(t, m.url, testKey, brownBody(1, 2)); status != 200 {
		t.Errorf("in the ok phase: %d", status)
	}
	waitFor(t, func() bool { return m.Stats().Brownout.State == "done" })
	st := m.Stats()
	if st.Accepted != 2 || st.Brownout.Phases[1].Accepted != 1 || st.Brownout.Schedule != "429=300ms,ok=100ms" {
		t.Errorf("stats: accepted %d, %+v", st.Accepted, st.Brownout)
	}
}

// TestBrownoutEndpoint: POST /mock/brownout starts a schedule now, and a
// bad one is refused naming the flag.
func TestBrownoutEndpoint(t *testing.T) {
	t.Parallel()
	m := startMock(t, nil)
	call := func(query, body string) (int, map[string]any) {
		resp, err := http.Post(m.url+"/mock/brownout"+query, "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if status, out := call("", "hold=1s,nap=2s"); status != 400 || !strings.Contains(fmt.Sprint(out["error"]), "brownout: phase 2") {
		t.Errorf("bad schedule: %d %v", status, out)
	}
	if status, out := call("?hold-answer=soon", "hold=1s"); status != 400 || !strings.Contains(fmt.Sprint(out["error"]), "hold-answer") {
		t.Errorf("bad hold: %d %v", status, out)
	}
	status, out := call("?hold-answer=2s", "429=1m,hold=1s")
	if status != 200 || out["phase"] != "429" || out["schedule"] != "429=1m0s,hold=1s" || out["hold_answer"] != "2s" {
		t.Errorf("good schedule: %d %v", status, out)
	}
	waitFor(t, func() bool { return phaseNow(m.Server) == mockprovider.Phase429 })
	if status, out := call("", "off"); status != 200 || out["state"] != "off" {
		t.Errorf("off: %d %v", status, out)
	}
	if st := m.Stats(); st.Brownout != nil || st.BrownoutPhase != "" {
		t.Errorf("after off: %+v", st.Brownout)
	}
}
