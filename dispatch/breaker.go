package dispatch

import (
	"fmt"
	"sync"
)

// breaker is the error breaker of one campaign run (after listmonk's
// max_send_errors): it remembers whether each of the last window first
// sends was refused for good, and trips once at least share of a full
// window were, so that a misconfiguration pauses the campaign with the
// reason instead of failing its whole audience.
type breaker struct {
	mu      sync.Mutex
	window  []bool
	next    int
	filled  bool
	refused int
	share   float64
}

func newBreaker(window int, share float64) *breaker {
	if window <= 0 {
		return &breaker{}
	}
	return &breaker{window: make([]bool, window), share: share}
}

// add counts one first send's outcome.
func (b *breaker) add(refused bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.window) == 0 {
		return
	}
	if b.window[b.next] {
		b.refused--
	}
	b.window[b.next] = refused
	if refused {
		b.refused++
	}
	b.next = (b.next + 1) % len(b.window)
	b.filled = b.filled || b.next == 0
}

// tripped says whether the window is full and too many were refused.
func (b *breaker) tripped() (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.filled || float64(b.refused) < b.share*float64(len(b.window)) {
		return "", false
	}
	return fmt.Sprintf("error breaker: %d of the last %d sends were refused by the provider", b.refused, len(b.window)), true
}
