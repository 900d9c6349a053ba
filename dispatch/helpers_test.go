package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/dispatch"
	"github.com/heraldhq/herald/internal/mytest"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/mysql"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/sqlite"
)

// fakeProvider is a function-field provider that keeps idempotency keys per
// destination like the real one (and the mock), and counts, at its side,
// deliveries per message id and per phone number, sends per key, and every
// body sent under each key.
type fakeProvider struct {
	mu     sync.Mutex
	decide func(call int, b herald.SendBatch) []herald.OutcomeKind // nil: accept all
	// codes overrides the code of refusals of a kind.
	codes      map[herald.OutcomeKind]string
	calls      int
	delivered  map[string]int               // message id → deliveries
	phones     map[string]int               // phone → deliveries
	keys       map[string]map[string]string // key → message id → msgKey
	sends      map[string]int               // key → requests
	bodies     map[string]string            // key → first body sent under it
	changed    []string                     // keys resent with another body
	keysOf     map[string]map[string]bool   // message id → keys it went out under
	deliveries chan string
	inquire    func(msgKey string) []herald.Report
}

func newFake() *fakeProvider {
	return &fakeProvider{
		delivered: map[string]int{}, phones: map[string]int{}, keys: map[string]map[string]string{},
		sends: map[string]int{}, bodies: map[string]string{}, keysOf: map[string]map[string]bool{},
		deliveries: make(chan string, 100000),
	}
}

func (f *fakeProvider) Send(_ context.Context, b herald.SendBatch) []herald.Outcome {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.sends[b.IdempotencyKey]++
	body, _ := json.Marshal(b)
	if prev, ok := f.bodies[b.IdempotencyKey]; !ok {
		f.bodies[b.IdempotencyKey] = string(body)
	} else if prev != string(body) {
		f.changed = append(f.changed, b.IdempotencyKey)
	}
	var kinds []herald.OutcomeKind
	if f.decide != nil {
		kinds = f.decide(f.calls, b)
	}
	out := make([]herald.Outcome, len(b.Destinations))
	for i, d := range b.Destinations {
		if f.keysOf[d.MessageID] == nil {
			f.keysOf[d.MessageID] = map[string]bool{}
		}
		f.keysOf[d.MessageID][b.IdempotencyKey] = true
		kind := herald.Accepted
		if kinds != nil {
			kind = kinds[i]
		}
		if prev, ok := f.keys[b.IdempotencyKey][d.MessageID]; ok && kind == herald.Accepted {
			out[i] = herald.Outcome{Kind: herald.Accepted, MsgKey: prev, Code: "A301", Duplicate: true}
			continue
		}
		if ok := f.keys[b.IdempotencyKey][d.MessageID] != ""; ok && kind == herald.InDoubt {
			out[i] = herald.Outcome{Kind: herald.InDoubt, Code: "500", Text: "answer lost"}
			continue
		}
		if kind == herald.Accepted || kind == herald.InDoubt { // in doubt: taken, answer lost
			msgKey := "K-" + d.MessageID
			if f.keys[b.IdempotencyKey] == nil {
				f.keys[b.IdempotencyKey] = map[string]string{}
			}
			f.keys[b.IdempotencyKey][d.MessageID] = msgKey
			f.delivered[d.MessageID]++
			f.phones[d.To]++
			f.deliveries <- d.MessageID
			out[i] = herald.Outcome{Kind: kind, MsgKey: msgKey, Code: "A000"}
			if kind == herald.InDoubt {
				out[i] = herald.Outcome{Kind: herald.InDoubt, Code: "500", Text: "answer lost"}
			}
			continue
		}
		code := map[herald.OutcomeKind]string{herald.RefusedRetryable: "A020", herald.RefusedPermanent: "A306", herald.RefusedAccount: "A401"}[kind]
		if c, ok := f.codes[kind]; ok {
			code = c
		}
		out[i] = herald.Outcome{Kind: kind, Code: code, Text: "refused"}
	}
	return out
}

// whole answers every destination of a request alike, as kind decides.
func whole(kind func(call int, b herald.SendBatch) herald.OutcomeKind) func(int, herald.SendBatch) []herald.OutcomeKind {
	return func(call int, b herald.SendBatch) []herald.OutcomeKind {
		k := kind(call, b)
		kinds := make([]herald.OutcomeKind, len(b.Destinations))
		for i := range kinds {
			kinds[i] = k
		}
		return kinds
	}
}

// Inquire answers a delivered report for every msgKey it issued.
func (f *fakeProvider) Inquire(_ context.Context, msgKey string) ([]herald.Report, error) {
	if f.inquire != nil {
		return f.inquire(msgKey), nil
	}
	ref := strings.TrimPrefix(msgKey, "K-")
	return []herald.Report{{MsgKey: msgKey, Ref: ref, ServiceType: "ALIMTALK", Code: herald.ReportDelivered, ReportType: "0", ReportTime: time.Now()}}, nil
}

// check fails the test when the provider saw anyone twice, a key resent
// with another body, or a message id under two keys after an in-doubt send.
func (f *fakeProvider) check(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, n := range f.delivered {
		if n > 1 {
			t.Errorf("message %s delivered %d times", id, n)
		}
	}
	for phone, n := range f.phones {
		if n > 1 {
			t.Errorf("phone %s got %d messages", phone, n)
		}
	}
	if len(f.changed) > 0 {
		t.Errorf("keys resent with another body: %v", f.changed)
	}
}

// engines runs fn on SQLite, MariaDB (a database of its own) and PostgreSQL
// (a schema of its own); with -short on SQLite only.
func engines(t *testing.T, fn func(t *testing.T, open func(t *testing.T) herald.Store)) {
	enginesOf(t, []string{"sqlite", "mariadb", "postgres"}, fn)
}

// serverEngines runs fn on MariaDB and PostgreSQL only, for tests of
// throughput shares that need the database to keep 200 sends a second
// waiting under -race (SQLite has one writer).
func serverEngines(t *testing.T, fn func(t *testing.T, open func(t *testing.T) herald.Store)) {
	enginesOf(t, []string{"mariadb", "postgres"}, fn)
}

func enginesOf(t *testing.T, names []string, fn func(t *testing.T, open func(t *testing.T) herald.Store)) {
	openers := map[string]func(t *testing.T) herald.Store{
		"sqlite": func(t *testing.T) herald.Store {
			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "h.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"mariadb": func(t *testing.T) herald.Store {
			s, err := mysql.Open(t.Context(), mytest.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"postgres": func(t *testing.T) herald.Store {
			s, err := postgres.Open(t.Context(), pgtest.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if testing.Short() && name != "sqlite" {
				t.Skip("-short runs the dispatcher on SQLite only")
			}
			fn(t, openers[name])
		})
	}
}

type fixture struct {
	store herald.Store
	fake  *fakeProvider
	camp  herald.Campaign
}

// member i of a test audience.
func member(i int) herald.Member {
	return herald.Member{ID: fmt.Sprintf("m%d", i), Phone: fmt.Sprintf("010%08d", i), Name: fmt.Sprintf("고객%d", i),
		Status: herald.MemberActive, Attributes: map[string]string{"order": fmt.Sprint(1000 + i)}, UpdatedAt: time.Now()}
}

func setup(t *testing.T, s herald.Store, n int, tps int, tweak func(i int, m *herald.Member)) *fixture {
	t.Helper()
	ctx := t.Context()
	members := make([]herald.Member, n)
	for i := range members {
		members[i] = member(i)
		if tweak != nil {
			tweak(i, &members[i])
		}
	}
	if _, err := s.UpsertMembers(ctx, members); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateTemplate(ctx, herald.Template{Code: "SHIP", SenderKey: "sk", Status: herald.TemplateApproved,
		Text: "#{name}님, 주문 #{order}번이 발송되었습니다.", CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: s, fake: newFake()}
	f.camp = f.campaign(t, tps)
	return f
}

func (f *fixture) campaign(t *testing.T, tps int) herald.Campaign {
	t.Helper()
	c := herald.Campaign{Name: "t", TemplateCode: "SHIP", Audience: herald.Audience{All: true}, TPS: tps, CreatedAt: time.Now()}
	if err := c.Validate(time.Now()); err != nil {
		t.Fatal(err)
	}
	c, err := f.store.CreateCampaign(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// config is a fast test configuration: short polls, backoffs and lease.
func config(cfg dispatch.Config) dispatch.Config {
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 10 * time.Millisecond
	}
	if cfg.RetryBase == 0 {
		cfg.RetryBase, cfg.RetryMax = time.Millisecond, 5*time.Millisecond
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL, cfg.RecoverInterval = 3*time.Second, 50*time.Millisecond
	}
	return cfg
}

func (f *fixture) startWith(t *testing.T, cfg dispatch.Config, store herald.Store, p herald.Provider) *dispatch.Dispatcher {
	t.Helper()
	d, err := dispatch.New(config(cfg), store, p, testLog(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Start(t.Context())
	t.Cleanup(func() { d.Stop(context.Background()) })
	return d
}

func (f *fixture) start(t *testing.T, cfg dispatch.Config) *dispatch.Dispatcher {
	return f.startWith(t, cfg, f.store, f.fake)
}

// testLog is the dispatcher's log for t: printed when t fails (the last
// logTailLines), or as it goes with HERALD_TEST_LOG=1.
func testLog(t *testing.T) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	if os.Getenv("HERALD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	tail := &logTail{}
	t.Cleanup(func() {
		if t.Failed() {
			tail.mu.Lock()
			defer tail.mu.Unlock()
			t.Logf("the dispatcher's last %d log lines:\n%s", len(tail.lines), strings.Join(tail.lines, ""))
		}
	})
	return slog.New(slog.NewTextHandler(tail, opts))
}

// logTail keeps the last lines written to it.
type logTail struct {
	mu    sync.Mutex
	lines []string
}

const logTailLines = 200

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == logTailLines {
		l.lines = append(l.lines[:0], l.lines[1:]...)
	}
	l.lines = append(l.lines, string(p))
	return len(p), nil
}

// waitFor polls the campaign until ok says so, failing after 30 s.
func (f *fixture) waitFor(t *testing.T, what string, ok func(c herald.Campaign) bool) herald.Campaign {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		c, err := f.store.GetCampaign(t.Context(), f.camp.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ok(c) {
			return c
		}
		select {
		case <-deadline:
			t.Fatalf("campaign %s with %v (reason %q): still not %s", c.State, c.Counts, c.Reason, what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (f *fixture) waitState(t *testing.T, state herald.CampaignState) herald.Campaign {
	t.Helper()
	return f.waitFor(t, string(state), func(c herald.Campaign) bool { return c.State == state })
}

// settled says nothing of the campaign is waiting to be sent.
func settled(c herald.Campaign) bool {
	return c.Total > 0 && c.Counts[herald.RecipientPending]+c.Counts[herald.RecipientSending]+c.Counts[herald.RecipientRetryWait] == 0
}

func checkCounts(t *testing.T, c herald.Campaign, want map[herald.RecipientState]int) {
	t.Helper()
	sum := 0
	for _, n := range c.Counts {
		sum += n
	}
	if sum != c.Total {
		t.Fatalf("counts %v add up to %d, total %d", c.Counts, sum, c.Total)
	}
	for s, n := range want {
		if c.Counts[s] != n {
			t.Fatalf("count %s = %d, want %d (all %v)", s, c.Counts[s], n, c.Counts)
		}
	}
}

func (f *fixture) rows(t *testing.T) []herald.Recipient {
	t.Helper()
	rows, err := f.store.ListRecipients(t.Context(), f.camp.ID, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// faultyStore is a store whose methods can be replaced one by one.
type faultyStore struct {
	herald.Store
	mu          sync.Mutex
	getTemplate func(ctx context.Context, code string) (herald.Template, error)
	getMembers  func(ctx context.Context, ids []string) (map[string]herald.Member, error)
	dead        bool // every write fails, as if the process had died
	// lagHeartbeats makes Heartbeat fail, as a busy database or a starved
	// machine delays it, while every other write goes through.
	lagHeartbeats bool
	// failReleases makes that many ReleaseRecipients calls fail first.
	failReleases int
	releases     int       // calls that reached the store
	beat         time.Time // the last heartbeat written, as the store keeps it
}

// lastBeat is the last heartbeat written through s, to the millisecond.
func (s *faultyStore) lastBeat() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.beat
}

func (s *faultyStore) GetTemplate(ctx context.Context, code string) (herald.Template, error) {
	if s.getTemplate != nil {
		return s.getTemplate(ctx, code)
	}
	return s.Store.GetTemplate(ctx, code)
}

func (s *faultyStore) GetMembers(ctx context.Context, ids []string) (map[string]herald.Member, error) {
	if s.getMembers != nil {
		return s.getMembers(ctx, ids)
	}
	return s.Store.GetMembers(ctx, ids)
}

func (s *faultyStore) kill() {
	s.mu.Lock()
	s.dead = true
	s.mu.Unlock()
}

// revive lets the dead process's late writes reach the database again:
// they must be fenced off by the newer claims.
func (s *faultyStore) revive() {
	s.mu.Lock()
	s.dead = false
	s.mu.Unlock()
}

func (s *faultyStore) isDead() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return fmt.Errorf("process is dead")
	}
	return nil
}

func (s *faultyStore) Heartbeat(ctx context.Context, owner string, now time.Time) error {
	if err := s.isDead(); err != nil {
		return err
	}
	s.mu.Lock()
	lag := s.lagHeartbeats
	s.mu.Unlock()
	if lag {
		return fmt.Errorf("database is locked")
	}
	if err := s.Store.Heartbeat(ctx, owner, now); err != nil {
		return err
	}
	s.mu.Lock()
	s.beat = now.Truncate(time.Millisecond)
	s.mu.Unlock()
	return nil
}

func (s *faultyStore) RecordOutcomes(ctx context.Context, u []herald.RecipientUpdate) error {
	if err := s.isDead(); err != nil {
		return err
	}
	return s.Store.RecordOutcomes(ctx, u)
}

func (s *faultyStore) ReleaseRecipients(ctx context.Context, owner string, c []herald.Claim, at time.Time) error {
	if err := s.isDead(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.failReleases > 0 {
		s.failReleases--
		s.mu.Unlock()
		return fmt.Errorf("database is locked")
	}
	s.releases++
	s.mu.Unlock()
	return s.Store.ReleaseRecipients(ctx, owner, c, at)
}

func (s *faultyStore) ClaimRecipients(ctx context.Context, p herald.ClaimParams) ([]herald.Recipient, error) {
	if err := s.isDead(); err != nil {
		return nil, err
	}
	return s.Store.ClaimRecipients(ctx, p)
}

func (s *faultyStore) RequeueAbandoned(ctx context.Context, now, deadBefore time.Time, limit int) (int, error) {
	if err := s.isDead(); err != nil {
		return 0, err
	}
	return s.Store.RequeueAbandoned(ctx, now, deadBefore, limit)
}
