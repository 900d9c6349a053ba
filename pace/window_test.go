package pace

import (
	"math/rand"
	"testing"
	"time"
)

// TestWindowProperty: random job sizes 1..200, random pauses, early polls,
// AIMD-like cuts and restarts (a new Window on the same timeline) never put
// more than the configured limit into any 1-s window.
func TestWindowProperty(t *testing.T) {
	t.Parallel()
	for _, limit := range []int{200, 300, 1000} {
		for seed := int64(1); seed <= 300; seed++ {
			rng := rand.New(rand.NewSource(seed))
			now := time.Unix(1_700_000_000, 0)
			newWin := func() *Window {
				w := NewWindow(limit, SpanFor(DefaultHeadroom), now)
				w.Fill(now)
				return w
			}
			w := newWin()
			var adm []admission
			for range 2000 {
				switch r := rng.Intn(100); {
				case r < 3:
					w = newWin() // restart
				case r < 6:
					w.SetLimits(limit, limit/10+rng.Intn(limit)) // cut, or recovery
				case r < 20:
					now = now.Add(time.Duration(rng.Int63n(int64(3 * time.Second))))
				}
				n := 1 + rng.Intn(min(200, limit))
				for {
					ok, wait := w.Admit(now, n)
					if ok {
						adm = append(adm, admission{now, n})
						break
					}
					if wait <= 0 || wait == Never {
						t.Fatalf("limit %d seed %d: refused %d with wait %v", limit, seed, n, wait)
					}
					if rng.Intn(4) == 0 { // poll early
						wait = time.Duration(rng.Int63n(int64(wait))) + 1
					}
					now = now.Add(wait)
				}
			}
			if most, at := maxInSecond(adm); most > limit {
				t.Fatalf("limit %d seed %d: %d recipients in the second from %v", limit, seed, most, at)
			}
		}
	}
}

// TestWindowRestartGuard: without Fill a restarted sender doubles the second.
func TestWindowRestartGuard(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(0, 0)
	span := SpanFor(DefaultHeadroom)
	old := NewWindow(200, span, t0)
	if ok, _ := old.Admit(t0.Add(900*time.Millisecond), 200); !ok {
		t.Fatal("empty window refused")
	}
	restart := t0.Add(time.Second)
	adm := []admission{{t0.Add(900 * time.Millisecond), 200}}
	naive := NewWindow(200, span, restart)
	if ok, _ := naive.Admit(restart, 200); !ok {
		t.Fatal("empty window refused")
	}
	if most, _ := maxInSecond(append(adm, admission{restart, 200})); most != 400 {
		t.Fatalf("unguarded restart: %d in a second, want the 400 the guard exists for", most)
	}
	guarded := NewWindow(200, span, restart)
	guarded.Fill(restart)
	if ok, wait := guarded.Admit(restart, 1); ok || wait != span {
		t.Fatalf("guarded restart: ok=%v wait=%v, want a wait of one window", ok, wait)
	}
	if ok, _ := guarded.Admit(restart.Add(span), 200); !ok {
		t.Fatal("guarded window still full one window after start")
	}
}

func TestWindowWaitIsExact(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(0, 0)
	w := NewWindow(10, time.Second, t0)
	for i, n := range []int{3, 3, 3} {
		if ok, _ := w.Admit(t0.Add(time.Duration(i)*100*time.Millisecond), n); !ok {
			t.Fatal("refused under the limit")
		}
	}
	// 9 in: 5 more needs the first two (6) to leave, at 1.1 s.
	ok, wait := w.Admit(t0.Add(500*time.Millisecond), 5)
	if ok || wait != 600*time.Millisecond {
		t.Fatalf("ok=%v wait=%v, want 600ms", ok, wait)
	}
	if ok, _ := w.Admit(t0.Add(1100*time.Millisecond-1), 5); ok {
		t.Fatal("admitted before the entries left")
	}
	if ok, _ := w.Admit(t0.Add(1100*time.Millisecond), 5); !ok {
		t.Fatal("refused at the exact wait")
	}
	if got := w.Count(t0.Add(1100 * time.Millisecond)); got != 8 {
		t.Fatalf("count %d, want 8", got)
	}
}

// TestWindowOversize: a job above a cut limit waits for an empty window and
// goes alone; one above the configured limit never goes.
func TestWindowOversize(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(0, 0)
	w := NewWindow(200, time.Second, t0)
	w.SetLimits(200, 100)
	w.Admit(t0, 10)
	w.Admit(t0.Add(300*time.Millisecond), 10)
	if ok, wait := w.Admit(t0.Add(400*time.Millisecond), 150); ok || wait != 900*time.Millisecond {
		t.Fatalf("oversize into a non-empty window: ok=%v wait=%v, want 900ms", ok, wait)
	}
	at := t0.Add(1300 * time.Millisecond)
	if ok, _ := w.Admit(at, 150); !ok {
		t.Fatal("oversize refused by an empty window")
	}
	if ok, wait := w.Admit(at, 1); ok || wait != time.Second {
		t.Fatalf("after the oversize job: ok=%v wait=%v, want it to wait out the window", ok, wait)
	}
	if ok, wait := w.Admit(at.Add(5*time.Second), 201); ok || wait != Never {
		t.Fatalf("above the configured limit: ok=%v wait=%v, want Never", ok, wait)
	}
}

// TestWindowMemory: entries are kept only for the window.
func TestWindowMemory(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(0, 0)
	w := NewWindow(1_000_000, time.Second, t0)
	for i := range 1_000_000 {
		w.Admit(t0.Add(time.Duration(i)*100*time.Microsecond), 1) // 10,000 a window
	}
	if live := len(w.ents) - w.head; live > 10_000 {
		t.Fatalf("%d live entries, want ≤ 10000", live)
	}
	if c := cap(w.ents); c > 4*10_000 {
		t.Fatalf("capacity %d for 10000 live entries", c)
	}
}

func BenchmarkWindowAdmit(b *testing.B) {
	t0 := time.Unix(0, 0)
	w := NewWindow(200, SpanFor(DefaultHeadroom), t0)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		if ok, wait := w.Admit(now, 1); !ok {
			now = now.Add(wait)
		}
	}
}
