package dispatch

import (
	"context"
	"sync"
)

// CampaignFloor is the share of a sender key's budget that campaigns get
// at least while one-off messages keep its priority lane busy.
const CampaignFloor = 0.10

// gate orders every run of one sender key in front of the key's pacer:
// one request at a time asks the pacer, and the gate picks which. One-off
// messages (the priority lane) go first, except that campaigns are owed
// CampaignFloor of what the lane takes while they wait; campaign requests
// go in arrival order (their shares of the key come from their limiters,
// see fairShares). The pacer stays the one bound of the key, for both
// lanes and every process (with Redis): the gate only orders this
// process's requests.
type gate struct {
	pacer Pacer
	floor float64

	mu     sync.Mutex
	busy   bool
	queue  []*gateWaiter
	credit float64 // campaign recipients the floor owes
}

type gateWaiter struct {
	priority bool
	n        int
	turn     chan struct{} // closed when it may ask the pacer
	granted  bool
}

func newGate(p Pacer, floor float64) *gate {
	return &gate{pacer: p, floor: floor}
}

// wait takes the turn of run's request of n recipients, then waits for the
// pacer. An error means nothing was admitted for it.
func (g *gate) wait(ctx context.Context, priority bool, n int) error {
	w := &gateWaiter{priority: priority, n: n, turn: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, w)
	g.next()
	g.mu.Unlock()
	select {
	case <-w.turn:
	case <-ctx.Done():
		g.mu.Lock()
		if !w.granted {
			g.remove(w)
			g.mu.Unlock()
			return ctx.Err()
		}
		g.mu.Unlock() // granted meanwhile: the pacer sees the cancelled context
	}
	err := g.pacer.Wait(ctx, n)
	g.mu.Lock()
	g.busy = false
	if err == nil {
		g.admitted(w)
	}
	g.next()
	g.mu.Unlock()
	return err
}

// next gives the turn to the chosen waiter when nobody holds it.
func (g *gate) next() {
	if g.busy || len(g.queue) == 0 {
		return
	}
	w := g.pick()
	g.remove(w)
	w.granted = true
	g.busy = true
	close(w.turn)
}

// pick chooses the priority lane's oldest request, unless the campaigns
// waiting are owed their floor; else the oldest campaign request.
func (g *gate) pick() *gateWaiter {
	var prio, camp *gateWaiter
	for _, w := range g.queue {
		switch {
		case w.priority && prio == nil:
			prio = w
		case !w.priority && camp == nil:
			camp = w
		}
	}
	if prio != nil && (camp == nil || g.credit < float64(camp.n)) {
		return prio
	}
	return camp
}

// admitted books a request the pacer let through: the priority lane's
// recipients earn campaigns floor/(1-floor) as many, up to one largest
// request (so a campaign that comes back after a quiet spell gets its
// floor, not a burst).
func (g *gate) admitted(w *gateWaiter) {
	if w.priority {
		g.credit = min(maxCredit, g.credit+float64(w.n)*g.floor/(1-g.floor))
		return
	}
	g.credit = max(0, g.credit-float64(w.n))
}

// maxCredit is the most the floor may owe campaigns: one request of the
// provider's largest batch.
const maxCredit = 200

func (g *gate) remove(w *gateWaiter) {
	for i, q := range g.queue {
		if q == w {
			g.queue = append(g.queue[:i], g.queue[i+1:]...)
			return
		}
	}
}

// lane is one run's view of its sender key's gate: a Pacer whose Wait
// queues in the run's lane.
type lane struct {
	g        *gate
	priority bool
}

func (l *lane) Wait(ctx context.Context, n int) error {
	return l.g.wait(ctx, l.priority, n)
}
func (l *lane) Throttle(reason string) { l.g.pacer.Throttle(reason) }
func (l *lane) Rate() float64          { return l.g.pacer.Rate() }
func (l *lane) Healthy() error         { return healthy(l.g.pacer) }

// fairShares gives each campaign of a sender key its share of the key's
// limit, weighted by its own TPS: limit × tps / Σ tps (at least 1). While
// the campaigns' rates add up to the limit or less, each keeps its own;
// above, each gets its weighted part, so that two campaigns do not split
// the key by who asks first. The shares add up to the limit at most; the
// key's pacer bounds the sum anyway. One-off messages are not counted:
// they go first, in the gate.
func fairShares(limit int, tps map[int64]int) map[int64]int {
	sum := 0
	for _, t := range tps {
		sum += t
	}
	out := make(map[int64]int, len(tps))
	for id, t := range tps {
		if limit <= 0 || sum <= limit {
			out[id] = t
			continue
		}
		out[id] = max(1, int(float64(limit)*float64(t)/float64(sum)))
	}
	return out
}
