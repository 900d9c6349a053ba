package infobank

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// MaxAPIRequests is the provider's limit on the non-send APIs (inquiry,
// polling, acknowledgement, templates): requests per second per account,
// all of them together.
const MaxAPIRequests = 5

// APILimiter keeps every non-send call of a process under the provider's
// limit of MaxAPIRequests a second, however late requests arrive. A rate
// limiter alone spaces departures; the provider counts arrivals, and a
// request held up on the way (a busy machine, the network) can land next
// to the one after it. So each call also takes one of MaxAPIRequests
// slots, and a slot is free again only a second after its last call was
// answered: a request arrives after it left and before its answer came,
// so two requests of one slot always arrive more than a second apart, and
// no second at the provider can hold more than MaxAPIRequests of them.
// The rate (below the limit) paces calls evenly in between. Share one
// APILimiter between all the clients of a process (Config.APILimiter).
type APILimiter struct {
	rate  *rate.Limiter
	mu    sync.Mutex
	slots []apiSlot
	freed chan struct{} // closed and replaced when a slot is released
	now   func() time.Time
}

type apiSlot struct {
	busy     bool
	answered time.Time // when its last call was answered
}

// NewAPILimiter paces calls at perSecond (at most MaxAPIRequests).
func NewAPILimiter(perSecond float64) *APILimiter {
	perSecond = min(perSecond, MaxAPIRequests)
	return &APILimiter{rate: rate.NewLimiter(rate.Limit(perSecond), 1), slots: make([]apiSlot, MaxAPIRequests),
		freed: make(chan struct{}), now: time.Now}
}

// Acquire waits until a call may leave and returns the function to call
// once its answer (or failure) is in.
func (l *APILimiter) Acquire(ctx context.Context) (release func(), err error) {
	if err := l.rate.Wait(ctx); err != nil {
		return nil, err
	}
	for {
		l.mu.Lock()
		now := l.now()
		wait, freed := time.Duration(-1), l.freed
		for i := range l.slots {
			s := &l.slots[i]
			if s.busy {
				continue
			}
			if d := s.answered.Add(time.Second).Sub(now); d > 0 {
				if wait < 0 || d < wait {
					wait = d
				}
				continue
			}
			s.busy = true
			l.mu.Unlock()
			return func() { l.release(i) }, nil
		}
		l.mu.Unlock()
		if err := waitSlot(ctx, wait, freed); err != nil {
			return nil, err
		}
	}
}

func (l *APILimiter) release(i int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.slots[i] = apiSlot{answered: l.now()}
	close(l.freed)
	l.freed = make(chan struct{})
}

// waitSlot waits d (d < 0: until a slot is released) or for a release.
func waitSlot(ctx context.Context, d time.Duration, freed <-chan struct{}) error {
	var timer <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-freed:
	case <-timer:
	}
	return nil
}
