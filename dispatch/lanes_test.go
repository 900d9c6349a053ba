package dispatch

import (
	"context"
	"sync"
	"testing"
	"time"
)

// countingPacer admits after a short pause, as a real pacer does: long
// enough for every producer just admitted to queue its next request, so the
// gate always chooses among all lanes (admitting at once measured the
// scheduler of a loaded machine, not the gate).
type countingPacer struct{}

func (p *countingPacer) Wait(ctx context.Context, n int) error {
	time.Sleep(200 * time.Microsecond)
	return ctx.Err()
}
func (p *countingPacer) Throttle(string) {}
func (p *countingPacer) Rate() float64   { return 200 }

// backlogged runs each lane as a run does (one request at a time, always
// another waiting) until total requests went through, and returns how
// many each lane got.
func backlogged(t *testing.T, g *gate, lanes []*lane, total int) []int {
	t.Helper()
	got := make([]int, len(lanes))
	var mu sync.Mutex
	done := 0
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	for i, l := range lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if err := l.Wait(ctx, 1); err != nil {
					return
				}
				mu.Lock()
				got[i]++
				done++
				if done == total {
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return got
}

func TestFairShares(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		limit int
		tps   map[int64]int
		want  map[int64]int
	}{
		{200, map[int64]int{1: 150, 2: 50}, map[int64]int{1: 150, 2: 50}},  // fits: each its own
		{200, map[int64]int{1: 300, 2: 100}, map[int64]int{1: 150, 2: 50}}, // weighted by TPS
		{200, map[int64]int{1: 100, 2: 100, 3: 100}, map[int64]int{1: 66, 2: 66, 3: 66}},
		{200, map[int64]int{1: 1000, 2: 1}, map[int64]int{1: 199, 2: 1}}, // never below 1
		{0, map[int64]int{1: 5000, 2: 7}, map[int64]int{1: 5000, 2: 7}},  // no key limit
	} {
		got := fairShares(c.limit, c.tps)
		sum := 0
		for id, n := range c.want {
			if got[id] != n {
				t.Errorf("fairShares(%d, %v) = %v, want %v", c.limit, c.tps, got, c.want)
				break
			}
			sum += got[id]
		}
		if c.limit > 0 && sum > c.limit {
			t.Errorf("shares %v add up to %d, over the limit %d", got, sum, c.limit)
		}
	}
}

func TestGatePriorityWithFloor(t *testing.T) {
	t.Parallel()
	g := newGate(&countingPacer{}, CampaignFloor)
	oneOff := &lane{g: g, priority: true}
	camp := &lane{g: g}
	// Several producers flood the priority lane; two campaigns wait.
	got := backlogged(t, g, []*lane{oneOff, oneOff, oneOff, camp, camp}, 5000)
	share := float64(got[3]+got[4]) / 5000
	// At least the floor; not much more: the one-offs keep priority.
	if share < CampaignFloor-0.005 || share > 2*CampaignFloor {
		t.Errorf("campaigns got %.3f of a flooded key, want about the floor %.2f (%v)", share, CampaignFloor, got)
	}
}

func TestGateCancelGivesTurnOn(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	p := &blockingPacer{release: block, entered: make(chan struct{})}
	g := newGate(p, CampaignFloor)
	l := &lane{g: g}
	first := make(chan error, 1)
	go func() { first <- l.Wait(t.Context(), 1) }() // holds the turn in the pacer
	p.waitEntered(t)
	ctx, cancel := context.WithCancel(t.Context())
	second := make(chan error, 1)
	go func() { second <- l.Wait(ctx, 1) }()
	cancel()
	if err := <-second; err == nil {
		t.Fatal("a cancelled waiter was admitted")
	}
	close(block)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := l.Wait(t.Context(), 1); err != nil { // the turn was given back
		t.Fatal(err)
	}
}

// blockingPacer holds the first Wait until release is closed.
type blockingPacer struct {
	release chan struct{}
	entered chan struct{}
	once    sync.Once
}

func (p *blockingPacer) Wait(ctx context.Context, n int) error {
	p.once.Do(func() { close(p.entered); <-p.release })
	return ctx.Err()
}
func (p *blockingPacer) waitEntered(t *testing.T) { t.Helper(); <-p.entered }
func (p *blockingPacer) Throttle(string)          {}
func (p *blockingPacer) Rate() float64            { return 1 }
