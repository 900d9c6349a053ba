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

// windowProvider counts, at the provider, destinations that arrive while
// the window is closed on the simulated clock.
type windowProvider struct {
	*fakeProvider
	clock  *simClock
	window herald.SendWindow
	mu     sync.Mutex
	total  int
	closed int
}

func (p *windowProvider) Send(ctx context.Context, b herald.SendBatch) []herald.Outcome {
	p.mu.Lock()
	p.total += len(b.Destinations)
	if !p.window.Open(p.clock.Now()) {
		p.closed += len(b.Destinations)
	}
	p.mu.Unlock()
	return p.fakeProvider.Send(ctx, b)
}

func (p *windowProvider) counts() (total, closed int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total, p.closed
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
		if _, err := s.TransitionCampaign(t.Context(), f.camp.ID, herald.CampaignCancelled, time.Now()); err != nil {
			t.Fatal(err)
		}
		day := time.Now().In(herald.Seoul).AddDate(0, 0, 1)
		at := func(days, h, m int) time.Time {
			return time.Date(day.Year(), day.Month(), day.Day()+days, h, m, 0, 0, herald.Seoul)
		}
		clock := newSimClock(at(0, 20, 40)) // 10 minutes before the close
		c := herald.Campaign{Name: "window", TemplateCode: "SHIP", Audience: herald.Audience{All: true}, TPS: 100,
			SendWindow: "08:00-20:50", StartAt: at(0, 20, 39), CreatedAt: time.Now()}
		if err := c.Validate(time.Now()); err != nil {
			t.Fatal(err)
		}
		c, err := s.CreateCampaign(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		f.camp = c
		w, _ := herald.ParseSendWindow(c.SendWindow)
		p := &windowProvider{fakeProvider: f.fake, clock: clock, window: w}
		// Jumps of the clock must not make this live process look dead to
		// its own recovery: that path has tests of its own.
		f.startWith(t, dispatch.Config{Workers: 4, Now: clock.Now, LeaseTTL: time.Second, RecoverInterval: time.Hour}, s, p)

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
