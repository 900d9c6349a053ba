package dispatch_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/dispatch"
	"github.com/heraldhq/herald/sqlite"
)

// fakeProvider is a function-field provider that remembers idempotency keys
// per destination like the real one, and counts deliveries per message id.
type fakeProvider struct {
	mu         sync.Mutex
	decide     func(call int, b herald.SendBatch) []herald.OutcomeKind // nil: accept all
	calls      int
	delivered  map[string]int               // message id → deliveries
	keys       map[string]map[string]string // key → message id → msgKey
	deliveries chan string
}

func newFake() *fakeProvider {
	return &fakeProvider{delivered: map[string]int{}, keys: map[string]map[string]string{}, deliveries: make(chan string, 100000)}
}

func (f *fakeProvider) Send(_ context.Context, b herald.SendBatch) []herald.Outcome {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	var kinds []herald.OutcomeKind
	if f.decide != nil {
		kinds = f.decide(f.calls, b)
	}
	out := make([]herald.Outcome, len(b.Destinations))
	for i, d := range b.Destinations {
		kind := herald.Accepted
		if kinds != nil {
			kind = kinds[i]
		}
		if prev, ok := f.keys[b.IdempotencyKey][d.MessageID]; ok {
			out[i] = herald.Outcome{Kind: herald.Accepted, MsgKey: prev, Code: "A301", Duplicate: true}
			continue
		}
		if kind == herald.Accepted || kind == herald.InDoubt { // in doubt: taken, answer lost
			msgKey := "K-" + d.MessageID
			if f.keys[b.IdempotencyKey] == nil {
				f.keys[b.IdempotencyKey] = map[string]string{}
			}
			f.keys[b.IdempotencyKey][d.MessageID] = msgKey
			f.delivered[d.MessageID]++
			f.deliveries <- d.MessageID
			out[i] = herald.Outcome{Kind: kind, MsgKey: msgKey, Code: "A000"}
			if kind == herald.InDoubt {
				out[i] = herald.Outcome{Kind: herald.InDoubt, Code: "500", Text: "answer lost"}
			}
			continue
		}
		out[i] = herald.Outcome{Kind: kind, Code: map[herald.OutcomeKind]string{herald.RefusedRetryable: "A020", herald.RefusedPermanent: "A306"}[kind]}
	}
	return out
}

// Inquire answers a delivered report for every msgKey it issued.
func (f *fakeProvider) Inquire(_ context.Context, msgKey string) ([]herald.Report, error) {
	ref := strings.TrimPrefix(msgKey, "K-")
	return []herald.Report{{MsgKey: msgKey, Ref: ref, ServiceType: "ALIMTALK", Code: herald.ReportDelivered, ReportType: "0", ReportTime: time.Now()}}, nil
}

func (f *fakeProvider) duplicates() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var dups []string
	for id, n := range f.delivered {
		if n > 1 {
			dups = append(dups, fmt.Sprintf("%s×%d", id, n))
		}
	}
	return dups
}

type fixture struct {
	store herald.Store
	fake  *fakeProvider
	camp  herald.Campaign
}

func setup(t *testing.T, n int, tps int, tweak func(i int, m *herald.Member)) *fixture {
	t.Helper()
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	members := make([]herald.Member, n)
	for i := range members {
		members[i] = herald.Member{ID: fmt.Sprintf("m%d", i), Phone: fmt.Sprintf("010%08d", i), Name: fmt.Sprintf("고객%d", i),
			Status: herald.MemberActive, Attributes: map[string]string{"order": fmt.Sprint(1000 + i)}, UpdatedAt: time.Now()}
		if tweak != nil {
			tweak(i, &members[i])
		}
	}
	if _, err := s.UpsertMembers(ctx, members); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateTemplate(ctx, herald.Template{Code: "SHIP", SenderKey: "sk", Status: herald.TemplateApproved,
		Text: "#{name}님, 주문 #{order}번이 발송되었습니다.", CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	c := herald.Campaign{Name: "t", TemplateCode: "SHIP", Audience: herald.Audience{All: true}, TPS: tps, CreatedAt: time.Now()}
	if err := c.Validate(time.Now()); err != nil {
		t.Fatal(err)
	}
	if c, err = s.CreateCampaign(ctx, c); err != nil {
		t.Fatal(err)
	}
	return &fixture{store: s, fake: newFake(), camp: c}
}

func (f *fixture) start(t *testing.T, cfg dispatch.Config) *dispatch.Dispatcher {
	t.Helper()
	cfg.PollInterval = 10 * time.Millisecond
	cfg.RetryBase, cfg.RetryMax = time.Millisecond, 5*time.Millisecond
	d, err := dispatch.New(cfg, f.store, f.fake, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Start(t.Context())
	t.Cleanup(func() { d.Stop(context.Background()) })
	return d
}

// waitState polls the campaign until it reaches state, failing after 30 s.
func (f *fixture) waitState(t *testing.T, state herald.CampaignState) herald.Campaign {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		c, err := f.store.GetCampaign(t.Context(), f.camp.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.State == state {
			return c
		}
		select {
		case <-deadline:
			t.Fatalf("campaign still %s with %v, want %s", c.State, c.Counts, state)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func checkCounts(t *testing.T, c herald.Campaign, want map[herald.RecipientState]int) {
	t.Helper()
	for s, n := range want {
		if c.Counts[s] != n {
			t.Fatalf("count %s = %d, want %d (all %v)", s, c.Counts[s], n, c.Counts)
		}
	}
}

func TestSendsEveryoneOnce(t *testing.T) {
	t.Parallel()
	f := setup(t, 300, 100000, func(i int, m *herald.Member) {
		if i == 7 {
			m.Status = herald.MemberWithdrawn // never prepared
		}
		if i == 8 {
			delete(m.Attributes, "order") // cannot render
		}
	})
	f.start(t, dispatch.Config{Workers: 8})
	c := f.waitState(t, herald.CampaignCompleted)
	checkCounts(t, c, map[herald.RecipientState]int{herald.RecipientAccepted: 298, herald.RecipientFailed: 1})
	if c.Total != 299 {
		t.Fatalf("total %d, want 299 (withdrawn member not prepared)", c.Total)
	}
	if d := f.fake.duplicates(); len(d) != 0 {
		t.Fatalf("duplicates: %v", d)
	}
	rows, _ := f.store.ListRecipients(t.Context(), c.ID, 0, 1000)
	for _, r := range rows {
		if r.MemberID == "m8" && (r.ResultCode != "RENDER" || r.State != herald.RecipientFailed) {
			t.Fatalf("unrenderable member: %+v", r)
		}
		if r.State == herald.RecipientAccepted && r.MsgKey != "K-"+r.MessageID {
			t.Fatalf("accepted row without its msgKey: %+v", r)
		}
	}
}

func TestWithdrawnAfterPreparationIsSkipped(t *testing.T) {
	t.Parallel()
	f := setup(t, 50, 100000, nil)
	ctx := t.Context()
	if _, err := f.store.AcquireCampaignLease(ctx, "prep", time.Now(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.PrepareRecipients(ctx, f.camp.ID, "prep", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.WithdrawMember(ctx, "m3", time.Now()); err != nil {
		t.Fatal(err)
	}
	f.start(t, dispatch.Config{})
	c := f.waitState(t, herald.CampaignCompleted)
	checkCounts(t, c, map[herald.RecipientState]int{herald.RecipientAccepted: 49, herald.RecipientSkipped: 1})
	f.fake.mu.Lock()
	defer f.fake.mu.Unlock()
	if f.fake.delivered["h1-4"] != 0 {
		t.Fatal("withdrawn member was sent to")
	}
}

func TestRetriesRefusalsAndGivesUp(t *testing.T) {
	t.Parallel()
	f := setup(t, 20, 100000, nil)
	refusedOnce := map[string]bool{}
	f.fake.decide = func(call int, b herald.SendBatch) []herald.OutcomeKind {
		kinds := make([]herald.OutcomeKind, len(b.Destinations))
		for i, d := range b.Destinations {
			switch {
			case d.MessageID == "h1-1": // refused every time
				kinds[i] = herald.RefusedRetryable
			case d.MessageID == "h1-2":
				kinds[i] = herald.RefusedPermanent
			case !refusedOnce[d.MessageID]: // everyone else refused for rate once
				refusedOnce[d.MessageID] = true
				kinds[i] = herald.RefusedRetryable
			default:
				kinds[i] = herald.Accepted
			}
		}
		return kinds
	}
	f.start(t, dispatch.Config{MaxAttempts: 3})
	c := f.waitState(t, herald.CampaignCompleted)
	checkCounts(t, c, map[herald.RecipientState]int{herald.RecipientAccepted: 18, herald.RecipientFailed: 2})
	rows, _ := f.store.ListRecipients(t.Context(), c.ID, 0, 100)
	if rows[0].Attempts != 3 || rows[0].State != herald.RecipientFailed {
		t.Fatalf("always-refused row: %+v, want FAILED after 3 attempts", rows[0])
	}
	if d := f.fake.duplicates(); len(d) != 0 {
		t.Fatalf("duplicates: %v", d)
	}
}

func TestInDoubtResendsUnderSameKey(t *testing.T) {
	t.Parallel()
	f := setup(t, 40, 100000, nil)
	f.fake.decide = func(call int, b herald.SendBatch) []herald.OutcomeKind {
		kinds := make([]herald.OutcomeKind, len(b.Destinations))
		for i := range kinds {
			kinds[i] = herald.Accepted
			if call%3 == 0 {
				kinds[i] = herald.InDoubt // provider took it, the answer was lost
			}
		}
		return kinds
	}
	f.start(t, dispatch.Config{BatchSize: 4})
	c := f.waitState(t, herald.CampaignCompleted)
	checkCounts(t, c, map[herald.RecipientState]int{herald.RecipientAccepted: 40})
	if d := f.fake.duplicates(); len(d) != 0 {
		t.Fatalf("duplicates after in-doubt resends: %v", d)
	}
}

func TestInDoubtForeverBecomesUnknown(t *testing.T) {
	t.Parallel()
	f := setup(t, 3, 100000, nil)
	p := &silentProvider{} // never answers: every send is in doubt
	d, err := dispatch.New(dispatch.Config{PollInterval: 10 * time.Millisecond, RetryBase: time.Millisecond, RetryMax: time.Millisecond, InDoubtResends: 2},
		f.store, p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Start(t.Context())
	t.Cleanup(func() { d.Stop(context.Background()) })
	c := f.waitState(t, herald.CampaignCompleted)
	checkCounts(t, c, map[herald.RecipientState]int{herald.RecipientUnknown: 3})
	rows, _ := f.store.ListRecipients(t.Context(), c.ID, 0, 10)
	if rows[0].ResultCode != "IN_DOUBT" || rows[0].ResultText == "" {
		t.Fatalf("unknown row without its reason: %+v", rows[0])
	}
	if got := p.count(); got != 9 {
		t.Fatalf("provider saw %d requests, want 3 recipients × (1 + 2 resends)", got)
	}
}

type silentProvider struct {
	mu sync.Mutex
	n  int
}

func (p *silentProvider) Send(_ context.Context, b herald.SendBatch) []herald.Outcome {
	p.mu.Lock()
	p.n++
	p.mu.Unlock()
	out := make([]herald.Outcome, len(b.Destinations))
	for i := range out {
		out[i] = herald.Outcome{Kind: herald.InDoubt, Code: "timeout", Text: "no answer"}
	}
	return out
}
func (p *silentProvider) Inquire(context.Context, string) ([]herald.Report, error) { return nil, nil }
func (p *silentProvider) count() int                                               { p.mu.Lock(); defer p.mu.Unlock(); return p.n }

// TestRecoveryAfterCrash leaves rows as a dead process would: claimed, keyed
// and sent (the provider took them) but never recorded. A new dispatcher,
// once the lease has run out, resends under the same key: the provider
// drops the copies, nobody gets a second message.
func TestRecoveryAfterCrash(t *testing.T) {
	t.Parallel()
	f := setup(t, 10, 100000, nil)
	ctx := t.Context()
	now := time.Now()
	if _, err := f.store.AcquireCampaignLease(ctx, "dead", now, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.PrepareRecipients(ctx, f.camp.ID, "dead", now); err != nil {
		t.Fatal(err)
	}
	rows, err := f.store.ClaimRecipients(ctx, herald.ClaimParams{CampaignID: f.camp.ID, Limit: 6, Owner: "dead", Now: now, LeaseUntil: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[int64]string{}
	for _, r := range rows[:4] { // four were keyed and sent, two were claimed only
		keys[r.ID] = fmt.Sprintf("%s.a1", r.MessageID)
		f.fake.Send(ctx, herald.SendBatch{IdempotencyKey: keys[r.ID], Destinations: []herald.Destination{{MessageID: r.MessageID}}})
	}
	if err := f.store.MarkBatches(ctx, "dead", keys, now); err != nil {
		t.Fatal(err)
	}
	later := func() time.Time { return time.Now().Add(2 * time.Minute) } // the dead lease has ended
	f.start(t, dispatch.Config{Now: later})
	c := f.waitState(t, herald.CampaignCompleted)
	checkCounts(t, c, map[herald.RecipientState]int{herald.RecipientAccepted: 10})
	if d := f.fake.duplicates(); len(d) != 0 {
		t.Fatalf("duplicates after recovery: %v", d)
	}
}

func TestPauseResumeCancel(t *testing.T) {
	t.Parallel()
	f := setup(t, 400, 100, nil) // 100/s: slow enough to pause midway
	f.start(t, dispatch.Config{})
	<-f.fake.deliveries
	if _, err := f.store.TransitionCampaign(t.Context(), f.camp.ID, herald.CampaignPaused, time.Now()); err != nil {
		t.Fatal(err)
	}
	// Once paused, in-flight sends finish and nothing is left SENDING.
	deadline := time.After(10 * time.Second)
	for {
		c, _ := f.store.GetCampaign(t.Context(), f.camp.ID)
		if c.Counts[herald.RecipientSending] == 0 && c.Counts[herald.RecipientPending] > 0 {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("pause did not settle: %v", c.Counts)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if _, err := f.store.TransitionCampaign(t.Context(), f.camp.ID, herald.CampaignCancelled, time.Now()); err != nil {
		t.Fatal(err)
	}
	c, _ := f.store.GetCampaign(t.Context(), f.camp.ID)
	if c.Counts[herald.RecipientCancelled] == 0 || c.Counts[herald.RecipientCancelled]+c.Counts[herald.RecipientAccepted] != 400 {
		t.Fatalf("after cancel counts %v", c.Counts)
	}
	if d := f.fake.duplicates(); len(d) != 0 {
		t.Fatalf("duplicates: %v", d)
	}
}

// TestInquirySettlesOverdueReports: no webhook ever comes, so accepted rows
// are settled by asking the provider.
func TestInquirySettlesOverdueReports(t *testing.T) {
	t.Parallel()
	f := setup(t, 30, 100000, nil)
	f.start(t, dispatch.Config{InquireAfter: time.Millisecond, InquiryInterval: 10 * time.Millisecond, InquiryRate: 10000})
	deadline := time.After(30 * time.Second)
	for {
		c, _ := f.store.GetCampaign(t.Context(), f.camp.ID)
		if c.Counts[herald.RecipientDelivered] == 30 {
			return
		}
		select {
		case <-deadline:
			t.Fatalf("not settled by inquiry: %v", c.Counts)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
