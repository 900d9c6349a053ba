package reportpoll_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/ingest"
	"github.com/heraldhq/herald/mockprovider"
	"github.com/heraldhq/herald/reportpoll"
	"github.com/heraldhq/herald/sqlite"
)

const key = "poll-test-key"

// startMock runs the mock provider with reports kept for polling; the
// client has no limiter of its own.
func startMock(t *testing.T, edit func(*mockprovider.Config)) (*mockprovider.Server, *infobank.Client) {
	m, url := startMockURL(t, edit)
	return m, newClient(t, url, nil)
}

func newClient(t *testing.T, url string, lim *infobank.APILimiter) *infobank.Client {
	t.Helper()
	c, err := infobank.New(infobank.Config{BaseURL: url, APIKey: key, APILimiter: lim})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func startMockURL(t *testing.T, edit func(*mockprovider.Config)) (*mockprovider.Server, string) {
	t.Helper()
	cfg := mockprovider.DefaultConfig()
	cfg.APIKey, cfg.LogEvery, cfg.TPS, cfg.ReportDelay = key, 0, 100_000, 0
	cfg.Reports = mockprovider.ReportsPolling
	cfg.APIRate = 0
	if edit != nil {
		edit(&cfg)
	}
	m, err := mockprovider.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(m)
	m.Start(context.Background())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Stop(ctx)
		ts.Close()
	})
	return m, ts.URL
}

// sendAll sends n recipients (200 per request); every one gets a report,
// and with a fallback leg the failed Kakao ones a second.
func sendAll(t *testing.T, c *infobank.Client, n int) {
	t.Helper()
	for start := 0; start < n; start += infobank.MaxDestinations {
		b := herald.SendBatch{SenderKey: "sk", TemplateCode: "T", IdempotencyKey: "k" + itoa(start), IdempotencyTTL: time.Hour}
		for i := start; i < min(n, start+infobank.MaxDestinations); i++ {
			b.Destinations = append(b.Destinations, herald.Destination{To: "010" + pad8(30_000_000+i), MessageID: "m-" + itoa(i), Text: "hello"})
		}
		for _, o := range c.Send(t.Context(), b) {
			if o.Kind != herald.Accepted {
				t.Fatalf("send: %+v", o)
			}
		}
	}
}

func itoa(i int) string { return pad8(i) }
func pad8(i int) string {
	b := []byte("00000000")
	for j := 7; j >= 0 && i > 0; j-- {
		b[j] = byte('0' + i%10)
		i /= 10
	}
	return string(b)
}

func newStore(t *testing.T) herald.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newIngest(t *testing.T, store herald.Store) *ingest.Ingest {
	t.Helper()
	in, err := ingest.New(ingest.Config{}, store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Stop(context.Background()) })
	return in
}

// ledger records what became durable and what was acknowledged, to check
// that no batch is acknowledged before all of it is durable.
type ledger struct {
	mu      sync.Mutex
	durable map[string]bool // msgKey + serviceType
	acked   int
	early   []string // reports acknowledged before they were durable
}

func newLedger() *ledger { return &ledger{durable: map[string]bool{}} }

func id(r herald.Report) string { return r.MsgKey + "/" + r.ServiceType }

// flakySubmitter fails every submit until down is cleared (a database
// outage), then passes to the real group commit and records each durable
// report.
type flakySubmitter struct {
	next reportpoll.Submitter
	down atomic.Bool
	led  *ledger
}

func (f *flakySubmitter) Submit(ctx context.Context, r herald.Report) error {
	if f.down.Load() {
		return errors.New("database unavailable (test)")
	}
	if err := f.next.Submit(ctx, r); err != nil {
		return err
	}
	f.led.mu.Lock()
	f.led.durable[id(r)] = true
	f.led.mu.Unlock()
	return nil
}

// watchedSource checks, at each ack, that the acknowledged batch is durable.
type watchedSource struct {
	next  reportpoll.Source
	led   *ledger
	mu    sync.Mutex
	last  infobank.Polled
	polls atomic.Int64
}

func (w *watchedSource) Poll(ctx context.Context) (infobank.Polled, error) {
	w.polls.Add(1)
	b, err := w.next.Poll(ctx)
	w.mu.Lock()
	w.last = b
	w.mu.Unlock()
	return b, err
}

func (w *watchedSource) Ack(ctx context.Context, reportID string) error {
	w.mu.Lock()
	b := w.last
	w.mu.Unlock()
	w.led.mu.Lock()
	for _, r := range b.Reports {
		if !w.led.durable[id(r)] {
			w.led.early = append(w.led.early, id(r))
		}
	}
	w.led.mu.Unlock()
	err := w.next.Ack(ctx, reportID)
	if err == nil {
		w.led.mu.Lock()
		w.led.acked += len(b.Reports)
		w.led.mu.Unlock()
	}
	return err
}

func fastConfig(owner string) reportpoll.Config {
	return reportpoll.Config{Owner: owner, LeaseTTL: time.Second, Idle: 10 * time.Millisecond,
		BackoffMin: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond, SubmitRetry: time.Millisecond}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Every report the mock hands out becomes durable before its batch is
// acknowledged, also when the store fails at first: the unacknowledged
// batch comes back and is stored then.
func TestPollerAcknowledgesOnlyDurableBatches(t *testing.T) {
	t.Parallel()
	m, client := startMock(t, func(c *mockprovider.Config) { c.NotUserRate = 0.3 })
	const n = 1200 // two batches: 1,000 and 200
	sendAll(t, client, n)
	store := newStore(t)
	led := newLedger()
	sub := &flakySubmitter{next: newIngest(t, store), led: led}
	sub.down.Store(true)
	src := &watchedSource{next: client, led: led}
	p, err := reportpoll.New(fastConfig("p1"), src, sub, store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, "the first batch to be handed out again", func() bool { return m.Stats().PollRedelivered >= 2 })
	if st := m.Stats(); st.PollAcked != 0 {
		t.Fatalf("%d reports acknowledged while the database was down", st.PollAcked)
	}
	sub.down.Store(false)
	waitFor(t, "every report acknowledged", func() bool {
		led.mu.Lock()
		defer led.mu.Unlock()
		return led.acked == n // the poller saw its last ack answered
	})
	cancel()
	<-done
	st := m.Stats()
	if st.PollRedelivered == 0 {
		t.Errorf("the batch that failed to store was not handed out again: %+v", st)
	}
	if st.ReportsAwaitingPoll != 0 || st.PollOutstanding != 0 {
		t.Errorf("reports left at the provider: %d waiting, %d outstanding", st.ReportsAwaitingPoll, st.PollOutstanding)
	}
	led.mu.Lock()
	defer led.mu.Unlock()
	if len(led.early) > 0 {
		t.Fatalf("%d reports acknowledged before they were durable, e.g. %s", len(led.early), led.early[0])
	}
	if len(led.durable) != n || led.acked != n {
		t.Fatalf("durable %d, acknowledged %d, want %d each", len(led.durable), led.acked, n)
	}
}

// Two pollers on one database: one polls, the other stands by, and takes
// over at once when the first stops (it resigns the lease).
func TestOnePollerAtATime(t *testing.T) {
	t.Parallel()
	_, client := startMock(t, nil)
	store := newStore(t)
	in := newIngest(t, store)
	srcA, srcB := &watchedSource{next: client, led: newLedger()}, &watchedSource{next: client, led: newLedger()}
	a, err := reportpoll.New(fastConfig("a"), srcA, in, store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := reportpoll.New(fastConfig("b"), srcB, in, store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctxA, stopA := context.WithCancel(t.Context())
	doneA := make(chan error, 1)
	go func() { doneA <- a.Run(ctxA) }()
	waitFor(t, "a polls", func() bool { return srcA.polls.Load() > 0 })
	ctxB, stopB := context.WithCancel(t.Context())
	defer stopB()
	doneB := make(chan error, 1)
	go func() { doneB <- b.Run(ctxB) }()
	waitFor(t, "a keeps polling", func() bool { return srcA.polls.Load() > 20 })
	if n := srcB.polls.Load(); n != 0 {
		t.Fatalf("the standby polled %d times while the leader lived", n)
	}
	stopA()
	<-doneA
	waitFor(t, "b takes over", func() bool { return srcB.polls.Load() > 0 })
	stopB()
	<-doneB
}

// The poller and the inquiry path, on two clients sharing one limiter, never
// ask the provider more often than the limit in any second, also when
// requests are held up on the way (the mock answers slowly, and some
// calls wait before they leave).
func TestPollerKeepsTheSharedLimit(t *testing.T) {
	t.Parallel()
	m, url := startMockURL(t, func(c *mockprovider.Config) {
		c.APIRate = infobank.MaxAPIRequests
		c.Latency, c.LatencySpread = 0, 0
	})
	lim := infobank.NewAPILimiter(infobank.MaxAPIRequests) // no headroom: the slots alone must hold the limit
	poller, inquirer := newClient(t, url, lim), newClient(t, url, lim)
	store := newStore(t)
	cfg := fastConfig("p")
	cfg.Idle = 0 // poll as fast as the limiter lets it
	p, err := reportpoll.New(cfg, poller, newIngest(t, store), store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { p.Run(ctx) })
	for range 3 { // the inquiry path, several at once
		wg.Go(func() {
			for ctx.Err() == nil {
				inquirer.Inquire(ctx, "20261125103000123ABCDEFGHIJKLMNO")
			}
		})
	}
	waitFor(t, "30 requests", func() bool { return m.Stats().APIRequests >= 30 })
	cancel()
	wg.Wait()
	st := m.Stats()
	if st.APIMaxWindow > infobank.MaxAPIRequests || st.APIRefusedRateLimit != 0 {
		t.Fatalf("%d requests in one second (limit %d), %d refused", st.APIMaxWindow, infobank.MaxAPIRequests, st.APIRefusedRateLimit)
	}
	if st.APIRequestsByKind["poll"] == 0 || st.APIRequestsByKind["inquiry"] == 0 {
		t.Fatalf("both users should have had turns: %v", st.APIRequestsByKind)
	}
}

func TestNewRequiresAnOwner(t *testing.T) {
	t.Parallel()
	_, err := reportpoll.New(reportpoll.Config{}, &watchedSource{}, &flakySubmitter{}, newStore(t), nil, nil)
	var inv *herald.InvalidError
	if !errors.As(err, &inv) || inv.Field != "owner" {
		t.Fatalf("err = %v", err)
	}
}
