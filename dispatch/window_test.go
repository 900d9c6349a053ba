package dispatch_test

import (
	"context"
	"sync"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/dispatch"
)

// simClock is the wall clock moved by an offset the test sets: time runs
// at its real rate between jumps.
type simClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func newSimClock(at time.Time) *simClock { return &simClock{offset: time.Until(at)} }

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *simClock) set(at time.Time) {
	c.mu.Lock()
	c.offset = time.Until(at)
	c.mu.Unlock()
}

// clockedProvider counts, at the provider, the destinations that arrive,
// and the requests and destinations that arrive while barred says so on
// the simulated clock (the send window closed, the lease run out).
type clockedProvider struct {
	*fakeProvider
	clock     *simClock
	mu        sync.Mutex
	barred    func(now time.Time) bool // nil: nothing is
	total     int
	barredReq int
	barredDst int
}

// windowProvider is a clockedProvider barred while w is closed.
func windowProvider(f *fakeProvider, clock *simClock, w herald.SendWindow) *clockedProvider {
	return &clockedProvider{fakeProvider: f, clock: clock, barred: func(now time.Time) bool { return !w.Open(now) }}
}

func (p *clockedProvider) Send(ctx context.Context, b herald.SendBatch) []herald.Outcome {
	p.mu.Lock()
	p.total += len(b.Destinations)
	if p.barred != nil && p.barred(p.clock.Now()) {
		p.barredReq++
		p.barredDst += len(b.Destinations)
	}
	p.mu.Unlock()
	return p.fakeProvider.Send(ctx, b)
}

// counts is the destinations that arrived, and of them while barred.
func (p *clockedProvider) counts() (total, barred int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total, p.barredDst
}

// TestSendWindowStopsAndResumes: a campaign started 10 minutes before its
// window closes (simulated clock) stops claiming at the close, sends
// nothing while closed, resumes at the next opening, and ends with every
// recipient accepted once.
func TestSendWindowStopsAndResumes(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		s := open(t)
		const n = 600
		f := setup(t, s, n, 100, nil)
		at := seoulDays()
		clock := newSimClock(at(0, 20, 40)) // 10 minutes before the close
		w := f.windowCampaign(t, "08:00-20:50", at(0, 20, 39))
		p := windowProvider(f.fake, clock, w)
		// Jumps of the clock must not make this live process look dead to
		// its own recovery, nor send the accepted rows to inquiry: those
		// paths have tests of their own.
		f.startWith(t, dispatch.Config{Workers: 4, Now: clock.Now, LeaseTTL: 3 * time.Second, RecoverInterval: time.Hour, InquireAfter: 72 * time.Hour}, s, p)

		waitUntil(t, "100 sent before the close", func() bool { total, _ := p.counts(); return total >= 100 })
		clock.set(at(0, 20, 50)) // the window closes
		f.waitFor(t, "nothing held at the close", func(c herald.Campaign) bool {
			return c.Counts[herald.RecipientSending] == 0 && c.Counts[herald.RecipientPending] > 0
		})
		atClose, closedSends := p.counts()
		time.Sleep(time.Second) // closed: nothing may leave
		if total, _ := p.counts(); total != atClose {
			t.Fatalf("%d destinations sent while the window was closed", total-atClose)
		}
		if closedSends > 4 { // at most the requests already in flight at the jump (Workers)
			t.Fatalf("%d destinations arrived after the close", closedSends)
		}
		if got := f.waitState(t, herald.CampaignRunning); got.Counts[herald.RecipientAccepted] >= n {
			t.Fatalf("everyone sent before the close: %v", got.Counts)
		}

		clock.set(at(1, 8, 0)) // the next opening
		got := f.waitState(t, herald.CampaignCompleted)
		checkCounts(t, got, map[herald.RecipientState]int{herald.RecipientAccepted: n})
		f.fake.check(t)
		total, closed := p.counts()
		if total != n || closed != closedSends {
			t.Fatalf("provider got %d destinations (%d while closed), want %d (%d)", total, closed, n, closedSends)
		}
		t.Logf("%d sent before the close, %d after the opening", atClose, n-atClose)
	})
}

// seoulDays gives the times of tomorrow and the days after, Asia/Seoul:
// at(0, 20, 50) is tomorrow at 20:50.
func seoulDays() func(days, h, m int) time.Time {
	day := time.Now().In(herald.Seoul).AddDate(0, 0, 1)
	return func(days, h, m int) time.Time {
		return time.Date(day.Year(), day.Month(), day.Day()+days, h, m, 0, 0, herald.Seoul)
	}
}

// windowCampaign puts in place of setup's campaign (cancelled) one with
// the send window, starting at start, and returns the window.
func (f *fixture) windowCampaign(t *testing.T, window string, start time.Time) herald.SendWindow {
	t.Helper()
	if _, err := f.store.TransitionCampaign(t.Context(), f.camp.ID, herald.CampaignCancelled, time.Now()); err != nil {
		t.Fatal(err)
	}
	c := herald.Campaign{Name: "window", TemplateCode: "SHIP", Audience: herald.Audience{All: true}, TPS: 100,
		SendWindow: window, StartAt: start, CreatedAt: time.Now()}
	if err := c.Validate(time.Now()); err != nil {
		t.Fatal(err)
	}
	c, err := f.store.CreateCampaign(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	f.camp = c
	w, err := herald.ParseSendWindow(window)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("still not %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFailedReleaseIsRetried: rows a pause gives back while the database
// refuses the release are not left SENDING under the live process (which
// nobody else would requeue): the release is retried at the next heartbeat.
func TestFailedReleaseIsRetried(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
		s := open(t)
		f := setup(t, s, 400, 100, nil)
		// Sends after the first take 100 ms each (one at a time, under the
		// fake's lock): the rows claimed ahead are still waiting when the
		// pause lands, however slow the machine is to see it.
		f.fake.decide = func(call int, _ herald.SendBatch) []herald.OutcomeKind {
			if call > 1 {
				time.Sleep(100 * time.Millisecond)
			}
			return nil
		}
		fs := &faultyStore{Store: s, failReleases: 1000}
		f.startWith(t, dispatch.Config{Workers: 2}, fs, f.fake)
		<-f.fake.deliveries
		if _, err := s.TransitionCampaign(t.Context(), f.camp.ID, herald.CampaignPaused, time.Now()); err != nil {
			t.Fatal(err)
		}
		f.waitFor(t, "releases refused while rows wait", func(c herald.Campaign) bool {
			fs.mu.Lock()
			defer fs.mu.Unlock()
			return fs.failReleases < 1000 && c.Counts[herald.RecipientSending] > 0
		})
		fs.mu.Lock()
		fs.failReleases = 0 // the database is back
		fs.mu.Unlock()
		c := f.waitFor(t, "nothing left SENDING", func(c herald.Campaign) bool { return c.Counts[herald.RecipientSending] == 0 })
		if c.Counts[herald.RecipientPending] == 0 || c.Counts[herald.RecipientPending]+c.Counts[herald.RecipientAccepted] != 400 {
			t.Fatalf("counts %v", c.Counts)
		}
		f.fake.check(t)
	})
}

// TestSendWindowClosesWhileInDoubt: the first request of every key is
// taken by the provider but its answer is lost, and the window closes
// with rows in doubt. While closed nothing leaves, the resends included.
// At the next opening a row whose key the provider still remembers is
// resent under that key and body (answered as a copy: nobody gets two
// messages); a row whose key lapsed while the window was shut (closed 23.5
// of 24 hours) is settled UNKNOWN instead of resent, since a resend would
// be a new message.
func TestSendWindowClosesWhileInDoubt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		window         string
		closeH, closeM int // the window closes at closeH:closeM (Asia/Seoul)
		lapsed         bool
	}{
		{"resent at the opening", "08:00-20:50", 20, 50, false},
		{"key lapsed while closed", "08:00-08:30", 8, 30, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			engines(t, func(t *testing.T, open func(*testing.T) herald.Store) {
				s := open(t)
				const n = 200
				f := setup(t, s, n, 100, nil)
				at := seoulDays()
				closeAt, opening := at(0, tc.closeH, tc.closeM), at(1, 8, 0)
				clock := newSimClock(closeAt.Add(-30 * time.Second))
				w := f.windowCampaign(t, tc.window, closeAt.Add(-time.Minute))
				firstBeforeClose := map[string]bool{} // keys first sent before the close
				resentAfterOpening := 0               // their sends after the opening
				f.fake.decide = whole(func(_ int, b herald.SendBatch) herald.OutcomeKind {
					// (decide runs under the fake's lock)
					now := clock.Now()
					if f.fake.sends[b.IdempotencyKey] == 1 {
						if now.Before(closeAt) {
							firstBeforeClose[b.IdempotencyKey] = true
						}
						return herald.InDoubt // taken, answer lost
					}
					if firstBeforeClose[b.IdempotencyKey] && !now.Before(opening) {
						resentAfterOpening++
					}
					return herald.Accepted
				})
				p := windowProvider(f.fake, clock, w)
				// (no recovery, no inquiry across the jumps: as above)
				f.startWith(t, dispatch.Config{Workers: 2, Now: clock.Now, LeaseTTL: 3 * time.Second, RecoverInterval: time.Hour, InquireAfter: 72 * time.Hour}, s, p)

				waitUntil(t, "first requests in doubt", func() bool { total, _ := p.counts(); return total >= 50 })
				clock.set(closeAt) // the window closes with rows in doubt
				f.waitFor(t, "nothing held at the close", func(c herald.Campaign) bool {
					return c.Counts[herald.RecipientSending] == 0 && c.Counts[herald.RecipientRetryWait] > 0
				})
				atClose, closedSends := p.counts()
				time.Sleep(2 * time.Second) // past the first resend backoff: still nothing may leave
				if total, _ := p.counts(); total != atClose {
					t.Fatalf("%d destinations sent while the window was closed", total-atClose)
				}
				if closedSends > 2 { // at most the requests in flight at the jump (Workers)
					t.Fatalf("%d destinations arrived after the close", closedSends)
				}

				clock.set(opening)
				got := f.waitState(t, herald.CampaignCompleted)
				f.fake.check(t) // nobody twice, no key resent with another body
				f.fake.mu.Lock()
				defer f.fake.mu.Unlock()
				for id, keys := range f.fake.keysOf {
					if len(keys) != 1 {
						t.Errorf("message %s went out under %d keys", id, len(keys))
					}
				}
				if len(f.fake.delivered) != n {
					t.Errorf("%d messages reached the provider, want %d", len(f.fake.delivered), n)
				}
				if tc.lapsed {
					if resentAfterOpening != 0 {
						t.Errorf("%d requests resent after their key lapsed", resentAfterOpening)
					}
					if got.Counts[herald.RecipientUnknown] == 0 || got.Counts[herald.RecipientAccepted]+got.Counts[herald.RecipientUnknown] != n {
						t.Errorf("counts %v, want the lapsed rows UNKNOWN and the rest accepted", got.Counts)
					}
					return
				}
				if resentAfterOpening == 0 {
					t.Error("no row in doubt at the close was resent at the opening")
				}
				checkCounts(t, got, map[herald.RecipientState]int{herald.RecipientAccepted: n})
			})
		})
	}
}
