package pace

import (
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestWindowNeverExceedsLimit drives the bucket with a simulated clock and
// counts recipients in every trailing 1-second window.
func TestWindowNeverExceedsLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ limit, batch int }{{200, 1}, {200, 10}, {1000, 100}, {7, 1}} {
		l := New(tc.limit, tc.batch, DefaultHeadroom)
		start := time.Unix(0, 0)
		var sent []time.Time
		now := start
		for now.Sub(start) < 10*time.Second {
			r := l.bucket.ReserveN(now, tc.batch)
			now = now.Add(r.DelayFrom(now))
			for range tc.batch {
				sent = append(sent, now)
			}
		}
		maxWindow, j := 0, 0
		for i := range sent {
			for sent[i].Sub(sent[j]) >= time.Second {
				j++
			}
			maxWindow = max(maxWindow, i-j+1)
		}
		if maxWindow > tc.limit {
			t.Errorf("limit %d batch %d: %d recipients in one window", tc.limit, tc.batch, maxWindow)
		}
		steady := float64(len(sent)) / 10
		if steady < 0.98*float64(tc.limit) {
			t.Errorf("limit %d batch %d: steady %.1f/s, below 98%%", tc.limit, tc.batch, steady)
		}
	}
}

func TestAIMD(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(0, 0)}
	l := New(100, 1, 0)
	l.now = clock.now
	var changes []string
	l.OnChange = func(old, new float64, reason string) { changes = append(changes, reason) }
	l.Throttle("A020")
	if got := l.Rate(); got != 70 {
		t.Fatalf("after a cut rate = %v, want 70", got)
	}
	l.Throttle("A020") // an echo within the cooldown
	if got := l.Rate(); got != 70 {
		t.Fatalf("echo cut again: rate = %v", got)
	}
	for range 10 {
		clock.add(time.Second)
		l.grow()
	}
	if got := l.Rate(); got != 100 {
		t.Fatalf("after 10 quiet seconds rate = %v, want back at 100", got)
	}
	if len(changes) != 2 || changes[1] != "recovered" {
		t.Fatalf("changes logged = %v, want one cut and one recovery", changes)
	}
	l.SetLimit(50, 0)
	if got := l.Rate(); got != 50 {
		t.Fatalf("after SetLimit rate = %v", got)
	}
}
