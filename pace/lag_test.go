package pace

import (
	"context"
	"math/rand"
	"sort"
	"testing"
	"time"
)

// stallClock is a clock on a machine that, between stallFrom and
// stallUntil, runs everything up to stall late: its timers fire late by up
// to that, and so do the requests between their admission and the
// provider. A blind clock's timers stay on time while the requests are
// still late: the limiter cannot see the overload.
type stallClock struct {
	t                     time.Time
	rng                   *rand.Rand
	stallFrom, stallUntil time.Time
	stall                 time.Duration
	blind                 bool
}

func (c *stallClock) Now() time.Time { return c.t }

// lag is a random delay of the machine at t.
func (c *stallClock) lag() time.Duration {
	if c.t.Before(c.stallFrom) || !c.t.Before(c.stallUntil) {
		return time.Duration(c.rng.Int63n(int64(200 * time.Microsecond)))
	}
	return time.Duration(c.rng.Int63n(int64(c.stall)))
}

func (c *stallClock) After(d time.Duration) <-chan time.Time {
	c.t = c.t.Add(d)
	if !c.blind {
		c.t = c.t.Add(c.lag())
	}
	ch := make(chan time.Time, 1)
	ch <- c.t
	return ch
}

// TestLatenessGuard: while the machine runs 40 ms late (timers and
// requests alike, three times the headroom's 15 ms), no 1-s window at the
// provider holds more than the limit, counted at arrival; once the machine
// keeps time again the span returns to the headroom's. The blind control,
// whose timers stay on time, does go over the limit in the same
// conditions: the guard is what holds it.
func TestLatenessGuard(t *testing.T) {
	t.Parallel()
	const limit = 200
	run := func(seed int64, blind bool) (most int, span time.Duration) {
		start := time.Unix(1_700_000_000, 0)
		c := &stallClock{t: start, rng: rand.New(rand.NewSource(seed)), stall: 40 * time.Millisecond, blind: blind,
			stallFrom: start.Add(20 * time.Second), stallUntil: start.Add(80 * time.Second)}
		l := NewLimiter(limit, DefaultHeadroom, Options{Now: c.Now, After: c.After, StartEmpty: true})
		var arrivals []admission
		for c.t.Before(start.Add(150 * time.Second)) {
			n := 1 + c.rng.Intn(100)
			if err := l.Wait(context.Background(), n); err != nil {
				t.Fatal(err)
			}
			arrivals = append(arrivals, admission{c.t.Add(c.lag()), n})
		}
		sort.SliceStable(arrivals, func(i, j int) bool { return arrivals[i].t.Before(arrivals[j].t) })
		most, _ = maxInSecond(arrivals)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.resize(c.t)
		return most, l.win.Span()
	}
	over := 0
	for seed := int64(1); seed <= 20; seed++ {
		most, span := run(seed, false)
		if most > limit {
			t.Errorf("seed %d: %d recipients arrived in one second, limit %d", seed, most, limit)
		}
		if span != SpanFor(DefaultHeadroom) {
			t.Errorf("seed %d: span %v 70 s after the stall, want the headroom's %v", seed, span, SpanFor(DefaultHeadroom))
		}
		if blind, _ := run(seed, true); blind > limit {
			over++
		}
	}
	if over == 0 {
		t.Fatal("the blind control never went over the limit: the stall does not test the guard")
	}
	t.Logf("blind control over the limit in %d of 20 runs", over)
}

// TestLatenessAfterAStall: a stall of seconds widens the window by at most
// MaxLatenessExtra and the extra halves every LatenessHalfLife.
func TestLatenessAfterAStall(t *testing.T) {
	t.Parallel()
	var g Lateness
	t0 := time.Unix(1_700_000_000, 0)
	g.Note(t0, 5*time.Second)
	for _, c := range []struct {
		after time.Duration
		want  time.Duration
	}{{0, 100 * time.Millisecond}, {LatenessHalfLife, 50 * time.Millisecond}, {2 * LatenessHalfLife, 25 * time.Millisecond}, {8 * LatenessHalfLife, 0}} {
		if got := g.Extra(t0.Add(c.after)); got != c.want {
			t.Errorf("%v after a 5 s stall: extra %v, want %v", c.after, got, c.want)
		}
	}
	g.Note(t0.Add(time.Second), 300*time.Microsecond) // an ordinary wake-up: below the decayed peak, no change
	if got := g.Extra(t0.Add(LatenessHalfLife)); got != 50*time.Millisecond {
		t.Errorf("extra %v after a smaller lateness, want the decayed peak's 50ms", got)
	}
}
