// Package pace holds the limiters that keep herald under the provider's
// rate limit. The provider counts recipients in every trailing 1-second
// window, so a limiter here must never let more than its limit through in
// any such window, and should come close to it in steady state.
package pace

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultHeadroom is the share of the limit left unused by default: a token
// bucket lets rate+burst through in a 1-second window, and network jitter
// can bunch requests that left evenly spaced. At 1% the demo's highest
// window at the provider touched 200 of 200; 1.5% leaves two of slack and
// still sends 98.5%.
const DefaultHeadroom = 0.015

// Limiter is a token bucket (golang.org/x/time/rate) at limit×(1−headroom)
// recipients per second with a burst of one batch, made adaptive: on a
// throttle signal it cuts the rate multiplicatively and then recovers
// additively (AIMD).
type Limiter struct {
	mu        sync.Mutex
	bucket    *rate.Limiter
	target    float64 // limit × (1 − headroom)
	current   float64
	lastCut   time.Time
	lastGrow  time.Time
	now       func() time.Time
	OnChange  func(old, new float64, reason string)
	decrease  float64
	increase  float64 // share of target regained per second
	minRate   float64
	cooldown  time.Duration
	throttled bool
}

// New returns a limiter for limit recipients per second and batches of up to
// burst recipients.
func New(limit int, burst int, headroom float64) *Limiter {
	l := &Limiter{
		now: time.Now, decrease: 0.7, increase: 0.05, cooldown: time.Second,
	}
	l.bucket = rate.NewLimiter(0, max(1, burst))
	l.SetLimit(limit, headroom)
	return l
}

// SetLimit changes the configured limit (a campaign's TPS was edited).
func (l *Limiter) SetLimit(limit int, headroom float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	target := float64(limit) * (1 - headroom)
	if target == l.target {
		return
	}
	l.target = target
	l.minRate = math.Max(1, target/100)
	if !l.throttled || l.current > target {
		l.current = target
		l.throttled = false
	}
	l.bucket.SetLimit(rate.Limit(l.current))
}

// Wait blocks until n recipients may be sent. A request larger than the
// burst (a frozen request resent by a process with a smaller batch size)
// is paced a burst at a time.
func (l *Limiter) Wait(ctx context.Context, n int) error {
	l.grow()
	for burst := l.bucket.Burst(); n > 0; n -= burst {
		if err := l.bucket.WaitN(ctx, min(n, burst)); err != nil {
			return err
		}
	}
	return nil
}

// Rate is the rate currently allowed, in recipients per second.
func (l *Limiter) Rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.current
}

// Throttle cuts the rate after the provider refused for rate (429/A020) or
// the report queue backed up. Cuts closer together than a second count once,
// since they are usually echoes of one burst.
func (l *Limiter) Throttle(reason string) {
	l.mu.Lock()
	now := l.now()
	if now.Sub(l.lastCut) < l.cooldown {
		l.mu.Unlock()
		return
	}
	old := l.current
	l.current = math.Max(l.minRate, l.current*l.decrease)
	l.lastCut, l.lastGrow, l.throttled = now, now, true
	l.bucket.SetLimit(rate.Limit(l.current))
	cb := l.OnChange
	l.mu.Unlock()
	if cb != nil {
		cb(old, l.current, reason)
	}
}

// grow regains a share of the target for every second without a cut.
func (l *Limiter) grow() {
	l.mu.Lock()
	if !l.throttled {
		l.mu.Unlock()
		return
	}
	now := l.now()
	secs := now.Sub(l.lastGrow).Seconds()
	if secs < 1 {
		l.mu.Unlock()
		return
	}
	old := l.current
	l.current = math.Min(l.target, l.current+l.target*l.increase*math.Floor(secs))
	l.lastGrow = now
	l.throttled = l.current < l.target
	l.bucket.SetLimit(rate.Limit(l.current))
	cb, recovered := l.OnChange, !l.throttled
	l.mu.Unlock()
	if cb != nil && recovered {
		cb(old, l.current, "recovered")
	}
}
