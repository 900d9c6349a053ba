package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/dispatch"
)

func TestSendsEveryoneOnce(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		s := open(t)
		f := setup(t, s, 300, 100000, func(i int, m *herald.Member) {
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
		f.fake.check(t)
		prefix := "h" + s.InstanceID() + "-"
		for _, r := range f.rows(t) {
			if r.MemberID == "m8" && (r.ResultCode != "RENDER" || r.State != herald.RecipientFailed) {
				t.Fatalf("unrenderable member: %+v", r)
			}
			if r.State == herald.RecipientAccepted && r.MsgKey != "K-"+r.MessageID {
				t.Fatalf("accepted row without its msgKey: %+v", r)
			}
			// Sequence 11: ids and keys carry the database's namespace.
			if !strings.HasPrefix(r.MessageID, prefix) || (r.BatchKey != "" && !strings.HasPrefix(r.BatchKey, prefix)) {
				t.Fatalf("message id %q / key %q outside the namespace %q", r.MessageID, r.BatchKey, prefix)
			}
		}
	})
}

func TestWithdrawnAfterPreparationIsSkipped(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		f := setup(t, open(t), 50, 100000, nil)
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
		if f.fake.phones[member(3).Phone] != 0 {
			t.Fatal("withdrawn member was sent to")
		}
	})
}

func TestRetriesRefusalsAndGivesUp(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		f := setup(t, open(t), 20, 100000, nil)
		f.fake.codes = map[herald.OutcomeKind]string{herald.RefusedRetryable: "A920"} // busy: not a refusal for rate
		refusedOnce := map[string]bool{}
		f.fake.decide = func(call int, b herald.SendBatch) []herald.OutcomeKind {
			kinds := make([]herald.OutcomeKind, len(b.Destinations))
			for i, d := range b.Destinations {
				switch {
				case d.To == member(0).Phone: // refused every time
					kinds[i] = herald.RefusedRetryable
				case d.To == member(1).Phone:
					kinds[i] = herald.RefusedPermanent
				case !refusedOnce[d.MessageID]: // everyone else refused once
					refusedOnce[d.MessageID] = true
					kinds[i] = herald.RefusedRetryable
				default:
					kinds[i] = herald.Accepted
				}
			}
			return kinds
		}
		f.start(t, dispatch.Config{MaxAttempts: 3, BreakerWindow: -1})
		c := f.waitState(t, herald.CampaignCompleted)
		checkCounts(t, c, map[herald.RecipientState]int{herald.RecipientAccepted: 18, herald.RecipientFailed: 2})
		for _, r := range f.rows(t) {
			if r.MemberID == "m0" && (r.Attempts != 3 || r.State != herald.RecipientFailed) {
				t.Fatalf("always-refused row: %+v, want FAILED after 3 attempts", r)
			}
		}
		f.fake.check(t)
	})
}

func TestInDoubtResendsUnderSameKey(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		f := setup(t, open(t), 40, 100000, nil)
		f.fake.decide = whole(func(call int, _ herald.SendBatch) herald.OutcomeKind {
			if call%3 == 0 {
				return herald.InDoubt // provider took it, the answer was lost
			}
			return herald.Accepted
		})
		f.start(t, dispatch.Config{BatchSize: 4})
		c := f.waitState(t, herald.CampaignCompleted)
		checkCounts(t, c, map[herald.RecipientState]int{herald.RecipientAccepted: 40})
		f.fake.check(t)
	})
}

// TestRefusedResendIsNotProof is sequence 1: a send is taken but its answer
// is lost; every resend under the same key is then refused (429, a refused
// connection, a busy provider, a permanent code) for a while. The row must
// never get a new key: a second key would be a second message.
func TestRefusedResendIsNotProof(t *testing.T) {
	t.Parallel()
	for _, refusal := range []struct {
		name string
		kind herald.OutcomeKind
		code string
	}{
		{"429", herald.RefusedRetryable, "A020"},
		{"connection refused", herald.RefusedRetryable, "NOT_SENT"},
		{"busy", herald.RefusedRetryable, "A920"},
		{"permanent", herald.RefusedPermanent, "HTTP_404"},
	} {
		t.Run(refusal.name, func(t *testing.T) {
			t.Parallel()
			engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
				f := setup(t, open(t), 40, 100000, nil)
				f.fake.codes = map[herald.OutcomeKind]string{refusal.kind: refusal.code}
				sendsOfKey := map[string]int{}
				f.fake.decide = whole(func(call int, b herald.SendBatch) herald.OutcomeKind {
					sendsOfKey[b.IdempotencyKey]++
					switch n := sendsOfKey[b.IdempotencyKey]; {
					case n == 1:
						return herald.InDoubt // the first send of every key: taken, answer lost
					case n <= 3:
						return refusal.kind // the resends: refused
					}
					return herald.Accepted
				})
				f.start(t, dispatch.Config{BatchSize: 2, Workers: 2})
				c := f.waitState(t, herald.CampaignCompleted)
				f.fake.check(t)
				f.fake.mu.Lock()
				for id, keys := range f.fake.keysOf {
					if len(keys) != 1 {
						t.Errorf("message %s went out under %d keys: %v", id, len(keys), keys)
					}
				}
				f.fake.mu.Unlock()
				want := herald.RecipientAccepted
				if refusal.kind == herald.RefusedPermanent {
					want = herald.RecipientUnknown // a refused resend proves nothing either way
				}
				checkCounts(t, c, map[herald.RecipientState]int{want: 40})
			})
		})
	}
}

func TestInDoubtForeverBecomesUnknown(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		f := setup(t, open(t), 3, 100000, nil)
		p := &silentProvider{} // never answers: every send is in doubt
		f.startWith(t, dispatch.Config{InDoubtResends: 2}, f.store, p)
		c := f.waitState(t, herald.CampaignCompleted)
		checkCounts(t, c, map[herald.RecipientState]int{herald.RecipientUnknown: 3})
		rows := f.rows(t)
		if rows[0].ResultCode != "IN_DOUBT" || rows[0].ResultText == "" {
			t.Fatalf("unknown row without its reason: %+v", rows[0])
		}
		if got := p.count(); got != 9 {
			t.Fatalf("provider saw %d requests, want 3 recipients × (1 + 2 resends)", got)
		}
		if keys := p.keyCount(); keys != 3 {
			t.Fatalf("provider saw %d keys, want 3: one per recipient", keys)
		}
	})
}

type silentProvider struct {
	mu   sync.Mutex
	n    int
	keys map[string]bool
}

func (p *silentProvider) Send(_ context.Context, b herald.SendBatch) []herald.Outcome {
	p.mu.Lock()
	p.n++
	if p.keys == nil {
		p.keys = map[string]bool{}
	}
	p.keys[b.IdempotencyKey] = true
	p.mu.Unlock()
	out := make([]herald.Outcome, len(b.Destinations))
	for i := range out {
		out[i] = herald.Outcome{Kind: herald.InDoubt, Code: "TIMEOUT", Text: "no answer"}
	}
	return out
}
func (p *silentProvider) Inquire(context.Context, string) ([]herald.Report, error) { return nil, nil }
func (p *silentProvider) count() int                                               { p.mu.Lock(); defer p.mu.Unlock(); return p.n }
func (p *silentProvider) keyCount() int                                            { p.mu.Lock(); defer p.mu.Unlock(); return len(p.keys) }

// hangingProvider takes every request (delivering it at the fake) and then
// never answers until released: the process dies in between.
type hangingProvider struct {
	fake    *fakeProvider
	release chan struct{}
	taken   atomic.Int64
}

func (p *hangingProvider) Send(ctx context.Context, b herald.SendBatch) []herald.Outcome {
	p.fake.Send(ctx, b)
	p.taken.Add(int64(len(b.Destinations)))
	select {
	case <-p.release:
	case <-ctx.Done():
	}
	out := make([]herald.Outcome, len(b.Destinations))
	for i := range out {
		out[i] = herald.Outcome{Kind: herald.InDoubt, Code: "TIMEOUT", Text: "no answer"}
	}
	return out
}
func (p *hangingProvider) Inquire(context.Context, string) ([]herald.Report, error) { return nil, nil }

// TestRecoveryResendsTheFrozenRequest is sequences 2 and 4: a process sends
// batches of two, the provider takes them, and the process dies before it
// records anything. Meanwhile members are renamed and change phone, and the
// next process runs with another batch size and the SMS fallback on. Its
// recovery must resend each request exactly as it first left (same phone,
// text, split and keys), and start within seconds of the death, not a
// whole lease later.
func TestRecoveryResendsTheFrozenRequest(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		f := setup(t, open(t), 20, 100000, nil)
		dying := &faultyStore{Store: f.store}
		hang := &hangingProvider{fake: f.fake, release: make(chan struct{})}
		defer close(hang.release)
		f.startWith(t, dispatch.Config{BatchSize: 2, Workers: 4, LeaseTTL: time.Second, RecoverInterval: 50 * time.Millisecond}, dying, hang)
		deadline := time.After(30 * time.Second)
		for hang.taken.Load() < 8 {
			select {
			case <-deadline:
				t.Fatalf("only %d taken", hang.taken.Load())
			case <-time.After(5 * time.Millisecond):
			}
		}
		dying.kill() // no more heartbeats, no records, no releases
		died := time.Now()
		t.Cleanup(dying.revive) // before the dead one stops: its late writes must change nothing
		changed := make([]herald.Member, 20)
		for i := range changed {
			changed[i] = member(i)
			changed[i].Name, changed[i].Phone = fmt.Sprintf("새이름%d", i), fmt.Sprintf("019%08d", i)
		}
		if _, err := f.store.UpsertMembers(t.Context(), changed); err != nil {
			t.Fatal(err)
		}
		f.start(t, dispatch.Config{BatchSize: 1, FallbackFrom: "0212345678", LeaseTTL: time.Second, RecoverInterval: 50 * time.Millisecond})
		c := f.waitState(t, herald.CampaignCompleted)
		if took := time.Since(died); took > 15*time.Second {
			t.Errorf("recovery took %v after the death", took)
		}
		checkCounts(t, c, map[herald.RecipientState]int{herald.RecipientAccepted: 20})
		f.fake.check(t)
		t.Cleanup(func() { // after the dead process stopped and wrote what it had
			checkCounts(t, must(f.store.GetCampaign(context.Background(), f.camp.ID)), map[herald.RecipientState]int{herald.RecipientAccepted: 20})
		})
		f.fake.mu.Lock()
		defer f.fake.mu.Unlock()
		resent := 0
		for key, n := range f.fake.sends {
			if n > 1 {
				resent++
			}
			if strings.Contains(f.fake.bodies[key], "새이름") && n > 1 {
				t.Errorf("key %s was resent with the new name: %s", key, f.fake.bodies[key])
			}
		}
		if resent == 0 {
			t.Fatal("no request was resent: the test did not exercise recovery")
		}
	})
}

// TestLeaseOutlivesThePacer is sequence 3: rows wait in the pacer far
// longer than the lease (four campaigns at 1000/s under a sender-key cap of
// 25/s, a 2 s lease). A healthy process must keep them: no key is sent
// twice, nobody gets two messages.
func TestLeaseOutlivesThePacer(t *testing.T) {
	if testing.Short() {
		t.Skip("slow (rows queued 6 s behind a 2 s lease); runs without -short")
	}
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		f := setup(t, open(t), 40, 1000, nil)
		camps := []herald.Campaign{f.camp}
		for range 3 {
			camps = append(camps, f.campaign(t, 1000))
		}
		f.start(t, dispatch.Config{GlobalTPS: 25, LeaseTTL: 2 * time.Second, RecoverInterval: 20 * time.Millisecond})
		for _, c := range camps {
			f.camp = c
			f.waitState(t, herald.CampaignCompleted)
		}
		f.fake.mu.Lock()
		defer f.fake.mu.Unlock()
		for key, n := range f.fake.sends {
			if n != 1 {
				t.Errorf("key %s sent %d times by one healthy process", key, n)
			}
		}
		for id, n := range f.fake.delivered {
			if n != 1 {
				t.Errorf("message %s delivered %d times", id, n)
			}
		}
	})
}

// TestOwnHeartbeatLags: while this process cannot write its heartbeat for
// longer than its lease, its own recovery must not take its live rows for
// a dead process's and put them in doubt (RETRY_WAIT under their key): it
// stops sending (its lease is short) and gives its rows back untouched.
func TestOwnHeartbeatLags(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		s := open(t)
		f := setup(t, s, 300, 100, nil)
		fs := &faultyStore{Store: s}
		f.startWith(t, dispatch.Config{LeaseTTL: time.Second, RecoverInterval: 20 * time.Millisecond}, fs, f.fake)
		<-f.fake.deliveries
		fs.mu.Lock()
		fs.lagHeartbeats = true
		fs.mu.Unlock()
		// Three leases without a heartbeat: the rows claimed before are
		// given back, none requeued in doubt.
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			c, err := s.GetCampaign(t.Context(), f.camp.ID)
			if err != nil {
				t.Fatal(err)
			}
			if n := c.Counts[herald.RecipientRetryWait]; n != 0 {
				t.Fatalf("%d rows in doubt while the process lives (counts %v)", n, c.Counts)
			}
			time.Sleep(10 * time.Millisecond)
		}
		fs.mu.Lock()
		fs.lagHeartbeats = false
		fs.mu.Unlock()
		c := f.waitState(t, herald.CampaignCompleted)
		checkCounts(t, c, map[herald.RecipientState]int{herald.RecipientAccepted: 300})
		for _, r := range f.rows(t) {
			if r.Resends != 0 {
				t.Fatalf("row %d resent %d times", r.ID, r.Resends)
			}
		}
		f.fake.check(t)
	})
}

// TestLeaseRunsOutWhileHeld: the heartbeat stops while the runner holds
// claimed jobs in its pacer queue, and the simulated clock jumps past the
// lease. Nothing may leave after the lease's end (but the requests already
// past their check), every held row goes back to PENDING in a few
// releases, not one per job, nothing is put in doubt, and once the
// heartbeat is written again the campaign ends with everyone sent once.
func TestLeaseRunsOutWhileHeld(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		s := open(t)
		const n, workers, lease = 240, 2, 3 * time.Second
		f := setup(t, s, n, 40, nil)
		fs := &faultyStore{Store: s}
		clock := newSimClock(time.Now())
		p := &clockedProvider{fakeProvider: f.fake, clock: clock} // barred once the lease is out
		// No recovery of its own (the jump would make this process look
		// dead to itself) and no inquiry of accepted rows across the jump.
		f.startWith(t, dispatch.Config{Workers: workers, Now: clock.Now, LeaseTTL: lease,
			RecoverInterval: time.Hour, InquireAfter: 72 * time.Hour}, fs, p)

		var held int
		waitUntil(t, "rows held in the pacer queue", func() bool {
			c, err := s.GetCampaign(t.Context(), f.camp.ID)
			if err != nil {
				t.Fatal(err)
			}
			sent, _ := p.counts()
			held = c.Counts[herald.RecipientSending]
			return sent > 0 && held >= 10
		})
		fs.mu.Lock()
		fs.lagHeartbeats = true
		releases := fs.releases
		fs.mu.Unlock()
		outAt := fs.lastBeat().Add(lease)
		p.mu.Lock()
		p.barred = func(now time.Time) bool { return !now.Before(outAt) }
		sentAtJump := p.total
		p.mu.Unlock()
		clock.set(outAt.Add(time.Second)) // a second past the lease's end

		f.waitFor(t, "every held row given back", func(c herald.Campaign) bool {
			return c.Counts[herald.RecipientSending] == 0
		})
		time.Sleep(500 * time.Millisecond) // the lease is still out: nothing may leave
		c, err := s.GetCampaign(t.Context(), f.camp.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Counts[herald.RecipientRetryWait] != 0 || c.Counts[herald.RecipientSending] != 0 {
			t.Fatalf("rows in doubt or held while the lease is out: %v", c.Counts)
		}
		p.mu.Lock()
		late, lateDst, sentOut := p.barredReq, p.barredDst, p.total-sentAtJump
		p.mu.Unlock()
		if late > workers {
			t.Fatalf("%d requests (%d destinations) reached the provider after the lease ran out; at most %d were past their check",
				late, lateDst, workers)
		}
		fs.mu.Lock()
		gaveBack := fs.releases - releases
		fs.mu.Unlock()
		// One for the runner's queue, one for a claim the producer was
		// still handing in, one per worker caught between hand-out and its
		// own check; one per job would be about one per held row.
		if most := 2 + workers; gaveBack == 0 || gaveBack > most {
			t.Fatalf("%d held rows given back in %d releases, want 1 to %d", held, gaveBack, most)
		}
		t.Logf("%d rows held at the jump, given back in %d releases; %d destinations sent after it (%d requests late)",
			held, gaveBack, sentOut, late)

		fs.mu.Lock()
		fs.lagHeartbeats = false
		fs.mu.Unlock()
		c = f.waitState(t, herald.CampaignCompleted)
		checkCounts(t, c, map[herald.RecipientState]int{herald.RecipientAccepted: n})
		for _, r := range f.rows(t) {
			if r.Resends != 0 {
				t.Fatalf("row %d resent %d times", r.ID, r.Resends)
			}
		}
		if total, _ := p.counts(); total != n {
			t.Fatalf("provider got %d destinations, want %d", total, n)
		}
		f.fake.check(t)
	})
}

// TestTwoProcessesOneCampaign runs two dispatchers on one database and one
// campaign with a short lease and a slow rate: neither may take the
// other's live rows.
func TestTwoProcessesOneCampaign(t *testing.T) {
	if testing.Short() {
		t.Skip("slow (two dispatchers on one campaign, ~10 s); runs without -short")
	}
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		f := setup(t, open(t), 200, 20, nil)
		f.start(t, dispatch.Config{Owner: "a", LeaseTTL: 2 * time.Second, RecoverInterval: 20 * time.Millisecond})
		f.start(t, dispatch.Config{Owner: "b", LeaseTTL: 2 * time.Second, RecoverInterval: 20 * time.Millisecond})
		c := f.waitState(t, herald.CampaignCompleted)
		checkCounts(t, c, map[herald.RecipientState]int{herald.RecipientAccepted: 200})
		f.fake.check(t)
		f.fake.mu.Lock()
		defer f.fake.mu.Unlock()
		for key, n := range f.fake.sends {
			if n != 1 {
				t.Errorf("key %s sent %d times", key, n)
			}
		}
	})
}

func TestPauseResumeCancel(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		f := setup(t, open(t), 400, 100, nil) // 100/s: slow enough to pause midway
		f.start(t, dispatch.Config{})
		<-f.fake.deliveries
		if _, err := f.store.TransitionCampaign(t.Context(), f.camp.ID, herald.CampaignPaused, time.Now()); err != nil {
			t.Fatal(err)
		}
		// Once paused, in-flight sends finish and nothing is left SENDING.
		f.waitFor(t, "paused and settled", func(c herald.Campaign) bool {
			return c.Counts[herald.RecipientSending] == 0 && c.Counts[herald.RecipientPending] > 0
		})
		if _, err := f.store.TransitionCampaign(t.Context(), f.camp.ID, herald.CampaignCancelled, time.Now()); err != nil {
			t.Fatal(err)
		}
		c, _ := f.store.GetCampaign(t.Context(), f.camp.ID)
		if c.Counts[herald.RecipientCancelled] == 0 || c.Counts[herald.RecipientCancelled]+c.Counts[herald.RecipientAccepted] != 400 {
			t.Fatalf("after cancel counts %v", c.Counts)
		}
		f.fake.check(t)
	})
}

// TestCancelWhileRunningStrandsNothing is sequence 5: a cancel of a running
// campaign, without a pause first, while rows are claimed, queued in the
// pacer, in flight and waiting to be retried. Every row must end final.
func TestCancelWhileRunningStrandsNothing(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		f := setup(t, open(t), 500, 200, nil)
		f.fake.decide = whole(func(call int, _ herald.SendBatch) herald.OutcomeKind {
			return []herald.OutcomeKind{herald.Accepted, herald.Accepted, herald.RefusedRetryable, herald.InDoubt}[call%4]
		})
		f.start(t, dispatch.Config{BatchSize: 5, RetryBase: 200 * time.Millisecond, RetryMax: time.Second})
		for range 40 {
			<-f.fake.deliveries
		}
		if _, err := f.store.TransitionCampaign(t.Context(), f.camp.ID, herald.CampaignCancelled, time.Now()); err != nil {
			t.Fatal(err)
		}
		c := f.waitFor(t, "settled after the cancel", settled)
		checkCounts(t, c, nil)
		for _, r := range f.rows(t) {
			if !r.State.Sent() {
				t.Fatalf("row left %s after cancel: %+v", r.State, r)
			}
		}
		time.Sleep(200 * time.Millisecond) // a late release or retry must not bring rows back
		checkCounts(t, must(f.store.GetCampaign(t.Context(), f.camp.ID)), map[herald.RecipientState]int{
			herald.RecipientPending: 0, herald.RecipientRetryWait: 0, herald.RecipientSending: 0,
		})
		f.fake.check(t)
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestTransientTemplateErrorIsRetried is sequence 6: a failed template read
// at start does not fail the campaign; it starts once the read works.
func TestTransientTemplateErrorIsRetried(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		f := setup(t, open(t), 10, 100000, nil)
		var calls atomic.Int32
		flaky := &faultyStore{Store: f.store}
		flaky.getTemplate = func(ctx context.Context, code string) (herald.Template, error) {
			if calls.Add(1) <= 2 {
				return herald.Template{}, errors.New("connection reset by peer")
			}
			return f.store.GetTemplate(ctx, code)
		}
		f.startWith(t, dispatch.Config{RetryMax: 10 * time.Millisecond}, flaky, f.fake)
		c := f.waitState(t, herald.CampaignCompleted)
		checkCounts(t, c, map[herald.RecipientState]int{herald.RecipientAccepted: 10})
	})
}

// TestUnusableTemplateFailsWithReason: a permanent reason fails the campaign
// with the reason stored, and settles its rows instead of leaving them
// PENDING.
func TestUnusableTemplateFailsWithReason(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		f := setup(t, open(t), 10, 100000, nil)
		gone := &faultyStore{Store: f.store}
		gone.getTemplate = func(ctx context.Context, code string) (herald.Template, error) {
			return herald.Template{}, herald.NotFound("template", code)
		}
		f.startWith(t, dispatch.Config{}, gone, f.fake)
		c := f.waitState(t, herald.CampaignFailed)
		if !strings.Contains(c.Reason, "template") {
			t.Fatalf("reason %q does not say why", c.Reason)
		}
		checkCounts(t, c, map[herald.RecipientState]int{herald.RecipientFailed: 10})
		if rows := f.rows(t); rows[0].ResultCode != "CAMPAIGN_FAILED" {
			t.Fatalf("row %+v", rows[0])
		}
	})
}

// TestAccountRefusalPausesAndResumes is sequence 7: a provider key that is
// refused must not burn the audience. The campaign pauses with the reason,
// rows are untouched, and after the fix a resume sends everyone once.
func TestAccountRefusalPausesAndResumes(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		f := setup(t, open(t), 200, 100000, nil)
		var fixed atomic.Bool
		f.fake.decide = whole(func(int, herald.SendBatch) herald.OutcomeKind {
			if fixed.Load() {
				return herald.Accepted
			}
			return herald.RefusedAccount
		})
		f.start(t, dispatch.Config{BatchSize: 10})
		c := f.waitFor(t, "paused and settled", func(c herald.Campaign) bool {
			return c.State == herald.CampaignPaused && c.Counts[herald.RecipientSending] == 0
		})
		if !strings.Contains(c.Reason, "A401") {
			t.Fatalf("pause reason %q does not name the refusal", c.Reason)
		}
		if c.Counts[herald.RecipientPending] != 200 {
			for _, r := range f.rows(t) {
				if r.State != herald.RecipientPending {
					t.Logf("row %d: %s %s %q attempts %d resends %d key %q", r.ID, r.State, r.ResultCode, r.ResultText, r.Attempts, r.Resends, r.BatchKey)
				}
			}
		}
		checkCounts(t, c, map[herald.RecipientState]int{herald.RecipientPending: 200, herald.RecipientFailed: 0})
		// A claim that began before the pause may still commit after it
		// (MySQL reads the campaign's state without a lock); its run has
		// stopped and gives the rows straight back.
		f.waitFor(t, "every row untouched", func(herald.Campaign) bool {
			for _, r := range f.rows(t) {
				if r.State != herald.RecipientPending || r.Attempts != 0 || r.BatchKey != "" {
					return false
				}
			}
			return true
		})
		fixed.Store(true)
		if _, err := f.store.TransitionCampaign(t.Context(), f.camp.ID, herald.CampaignRunning, time.Now()); err != nil {
			t.Fatal(err)
		}
		c = f.waitState(t, herald.CampaignCompleted)
		checkCounts(t, c, map[herald.RecipientState]int{herald.RecipientAccepted: 200})
		if c.Reason != "" {
			t.Fatalf("reason %q kept after resume", c.Reason)
		}
		f.fake.check(t)
	})
}

// TestErrorBreakerPauses: when most sends are refused for good, the
// campaign pauses after one window instead of failing everyone.
func TestErrorBreakerPauses(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		f := setup(t, open(t), 1000, 100000, nil)
		f.fake.decide = whole(func(int, herald.SendBatch) herald.OutcomeKind { return herald.RefusedPermanent })
		f.start(t, dispatch.Config{BreakerWindow: 50, BreakerShare: 0.8, Workers: 2})
		c := f.waitFor(t, "paused by the breaker", func(c herald.Campaign) bool {
			return c.State == herald.CampaignPaused && c.Counts[herald.RecipientSending] == 0
		})
		if !strings.Contains(c.Reason, "breaker") {
			t.Fatalf("reason %q", c.Reason)
		}
		if failed := c.Counts[herald.RecipientFailed]; failed < 40 || failed > 500 {
			t.Fatalf("%d failed before the breaker tripped (window 50)", failed)
		}
	})
}

// TestNoReportEndsUnknown is sequence 8: an accepted send whose report never
// comes, and that inquiry cannot settle, ends UNKNOWN (NO_REPORT) after the
// report window, with or without a msgKey.
func TestNoReportEndsUnknown(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		f := setup(t, open(t), 10, 100000, nil)
		f.fake.inquire = func(string) []herald.Report { return nil }
		var now atomic.Int64
		now.Store(time.Now().UnixNano())
		clock := func() time.Time { return time.Unix(0, now.Load()) }
		f.start(t, dispatch.Config{Now: clock, InquireAfter: time.Minute, InquiryInterval: 10 * time.Millisecond, InquiryRate: 1000, ReportWindow: time.Hour})
		f.waitState(t, herald.CampaignCompleted)
		now.Add(int64(2 * time.Hour))
		c := f.waitFor(t, "all UNKNOWN", func(c herald.Campaign) bool { return c.Counts[herald.RecipientUnknown] == 10 })
		checkCounts(t, c, nil)
		if r := f.rows(t)[0]; r.ResultCode != "NO_REPORT" {
			t.Fatalf("row %+v", r)
		}
	})
}

// panickyProvider panics for one phone number.
type panickyProvider struct {
	*fakeProvider
	phone string
}

func (p *panickyProvider) Send(ctx context.Context, b herald.SendBatch) []herald.Outcome {
	for _, d := range b.Destinations {
		if d.To == p.phone {
			panic("provider client bug")
		}
	}
	return p.fakeProvider.Send(ctx, b)
}

// TestPanicsAreContained is sequence 9: a panic while sending makes that
// request's rows UNKNOWN (it may have left), one while preparing makes the
// claim FAILED (nothing left); the process sends everyone else.
func TestPanicsAreContained(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		f := setup(t, open(t), 30, 25, nil) // claims of 5 rows
		var once sync.Once
		s := &faultyStore{Store: f.store}
		s.getMembers = func(ctx context.Context, ids []string) (map[string]herald.Member, error) {
			for _, id := range ids {
				if id == "m20" {
					once.Do(func() { panic("member loader bug") })
				}
			}
			return f.store.GetMembers(ctx, ids)
		}
		p := &panickyProvider{fakeProvider: f.fake, phone: member(5).Phone}
		f.startWith(t, dispatch.Config{Workers: 2}, s, p)
		c := f.waitState(t, herald.CampaignCompleted)
		checkCounts(t, c, nil)
		for _, r := range f.rows(t) {
			switch {
			case r.MemberID == "m5" && (r.State != herald.RecipientUnknown || r.ResultCode != "PANIC"):
				t.Fatalf("row that panicked in send: %+v", r)
			case r.MemberID == "m20" && (r.State != herald.RecipientFailed || r.ResultCode != "PANIC"):
				t.Fatalf("row that panicked in prepare: %+v", r)
			}
		}
		if n := c.Counts[herald.RecipientAccepted]; n < 20 {
			t.Fatalf("only %d accepted after the panics: %v", n, c.Counts)
		}
	})
}

// TestInquirySettlesOverdueReports: no webhook ever comes, so accepted rows
// are settled by asking the provider.
func TestInquirySettlesOverdueReports(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		f := setup(t, open(t), 30, 100000, nil)
		f.start(t, dispatch.Config{InquireAfter: time.Millisecond, InquiryInterval: 10 * time.Millisecond, InquiryRate: 10000})
		f.waitFor(t, "delivered", func(c herald.Campaign) bool { return c.Counts[herald.RecipientDelivered] == 30 })
	})
}

// sendersOf is a provider in front of the shared fake that remembers which
// message ids went out through it: one per process. With a delay set, each
// request waits that long before it is written, unless its context ends
// first (as an HTTP client's would): then nothing is written and the answer
// is in doubt.
type sendersOf struct {
	*fakeProvider
	mu        sync.Mutex
	delay     time.Duration
	sent      map[string]bool
	deadlines []time.Time // of every request's context (zero: none)
}

func (p *sendersOf) Send(ctx context.Context, b herald.SendBatch) []herald.Outcome {
	p.mu.Lock()
	delay := p.delay
	dl, _ := ctx.Deadline()
	p.deadlines = append(p.deadlines, dl)
	p.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-time.After(delay):
	}
	if ctx.Err() != nil { // as an HTTP client's request ends with its context
		out := make([]herald.Outcome, len(b.Destinations))
		for i := range out {
			out[i] = herald.Outcome{Kind: herald.InDoubt, Code: "timeout", Text: ctx.Err().Error()}
		}
		return out
	}
	p.mu.Lock()
	for _, d := range b.Destinations {
		p.sent[d.MessageID] = true
	}
	p.mu.Unlock()
	return p.fakeProvider.Send(ctx, b)
}

// TestLaggingProcessTakenOver: process A's heartbeats and releases are
// refused (a starved machine, a stuck database connection) while it holds
// claimed rows in memory; healthy process B counts A dead a lease later and
// takes A's rows over. A must have stopped sending before then: every
// request of A's ends with its lease, which ends no later than the last
// heartbeat B can read plus the lease. A row whose result A could not
// record in time is resent by B under its frozen key, never a new one:
// nobody gets a message twice, and B finishes the campaign.
func TestLaggingProcessTakenOver(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		s := open(t)
		f := setup(t, s, 300, 100, nil)
		lease := 2 * time.Second
		fs := &faultyStore{Store: s}
		a := &sendersOf{fakeProvider: f.fake, sent: map[string]bool{}}
		b := &sendersOf{fakeProvider: f.fake, sent: map[string]bool{}}
		f.startWith(t, dispatch.Config{Owner: "a", LeaseTTL: lease, RecoverInterval: 20 * time.Millisecond}, fs, a)
		<-f.fake.deliveries
		fs.mu.Lock()
		fs.lagHeartbeats = true
		fs.failReleases = 1 << 30
		fs.mu.Unlock()
		a.mu.Lock()
		a.delay = 400 * time.Millisecond // starved: what A holds goes out late, if at all
		a.mu.Unlock()
		f.startWith(t, dispatch.Config{Owner: "b", LeaseTTL: lease, RecoverInterval: 20 * time.Millisecond}, s, b)
		c := f.waitState(t, herald.CampaignCompleted)
		checkCounts(t, c, map[herald.RecipientState]int{herald.RecipientAccepted: 300})
		f.fake.check(t)
		a.mu.Lock()
		b.mu.Lock()
		defer a.mu.Unlock()
		defer b.mu.Unlock()
		f.fake.mu.Lock()
		defer f.fake.mu.Unlock()
		both := 0
		for id := range a.sent {
			if b.sent[id] {
				both++
			}
			if keys := f.fake.keysOf[id]; len(keys) != 1 {
				t.Errorf("message %s went out under %d keys", id, len(keys))
			}
		}
		leaseEnd := fs.lastBeat().Add(lease)
		for _, dl := range a.deadlines {
			if dl.IsZero() || dl.After(leaseEnd) {
				t.Errorf("a request of the lagging process could run until %v, past its lease (%v)", dl, leaseEnd)
			}
		}
		if len(a.sent) == 0 || len(b.sent) == 0 {
			t.Errorf("sent by a: %d, by b: %d; both should have sent", len(a.sent), len(b.sent))
		}
		resent := 0
		for _, r := range f.rows(t) {
			if r.Resends > 0 {
				resent++
			}
		}
		if resent == 0 {
			t.Error("no row was taken over and resent: the test did not drive a takeover")
		}
		t.Logf("sent by a: %d, by b: %d, taken over and resent: %d (of them sent by both, under one key: %d)", len(a.sent), len(b.sent), resent, both)
	})
}
