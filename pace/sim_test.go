package pace

import (
	"sort"
	"sync"
	"testing"
	"time"
)

// simClock is a simulated clock. In auto mode After advances the clock by
// the wait at once (deterministic for one caller); otherwise timers wait
// for fire, which a driver goroutine calls.
type simClock struct {
	mu     sync.Mutex
	t      time.Time
	auto   bool
	timers []simTimer
	added  chan struct{}
}

type simTimer struct {
	at time.Time
	ch chan time.Time
}

func newSimClock(auto bool) *simClock {
	return &simClock{t: time.Unix(1_700_000_000, 0), auto: auto, added: make(chan struct{}, 1)}
}

func (c *simClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *simClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func (c *simClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.auto {
		c.t = c.t.Add(d)
		ch <- c.t
		return ch
	}
	c.timers = append(c.timers, simTimer{c.t.Add(d), ch})
	select {
	case c.added <- struct{}{}:
	default:
	}
	return ch
}

// fire advances to the earliest timer and fires it; false if none.
func (c *simClock) fire() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return false
	}
	sort.Slice(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
	tm := c.timers[0]
	c.timers = c.timers[1:]
	if tm.at.After(c.t) {
		c.t = tm.at
	}
	tm.ch <- c.t
	return true
}

// drive fires timers as they are set until done is closed. Firing the
// earliest timer is always something a real clock could do; goroutines
// that are slow to run only look like scheduling delays.
func (c *simClock) drive(done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-c.added:
			for c.fire() {
			}
		}
	}
}

func (c *simClock) options() Options { return Options{Now: c.Now, After: c.After} }

type admission struct {
	t time.Time
	n int
}

// maxInSecond is the most recipients in any half-open [t, t+1s), with every
// admission time as a candidate start (the maximum is attained at one).
// Admissions must be in time order.
func maxInSecond(adm []admission) (most int, at time.Time) {
	sum, j := 0, 0
	for i := range adm {
		for j < len(adm) && adm[j].t.Before(adm[i].t.Add(time.Second)) {
			sum += adm[j].n
			j++
		}
		if sum > most {
			most, at = sum, adm[i].t
		}
		sum -= adm[i].n
	}
	return most, at
}

func sorted(adm []admission) bool {
	return sort.SliceIsSorted(adm, func(i, j int) bool { return adm[i].t.Before(adm[j].t) })
}

func TestMaxInSecond(t *testing.T) {
	t0 := time.Unix(0, 0)
	adm := []admission{{t0, 5}, {t0.Add(999 * time.Millisecond), 7}, {t0.Add(time.Second), 11}, {t0.Add(1500 * time.Millisecond), 1}}
	if most, at := maxInSecond(adm); most != 19 || !at.Equal(t0.Add(999*time.Millisecond)) {
		t.Fatalf("maxInSecond = %d at %v, want 19 at +999ms", most, at.Sub(t0))
	}
}
