// Package pace holds the limiters that keep herald under the provider's
// rate limit. The provider counts recipients in every trailing 1-second
// window, so a limiter here must never let more than its limit through in
// any such window, and should come close to it in steady state.
package pace

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// DefaultHeadroom stretches the counting window to 1.015 s: the steady rate
// is 98.5% of the limit, and requests that left a window apart may bunch by
// up to 15 ms on the way and still land in different provider seconds.
const DefaultHeadroom = 0.015

// ErrTooLarge is returned by Wait for a job larger than the configured
// limit: no 1-s window could ever hold it.
var ErrTooLarge = errors.New("pace: job larger than the limit")

// Options configures a Limiter. The zero value is the production setting.
type Options struct {
	// Now and After are the clock (default time.Now and time.After).
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// StartEmpty trusts that nothing was sent in the window before the
	// limiter was created. By default the window starts full, so the first
	// admission comes one window after creation: a process restarted within
	// a second of its last send, or a standby taking over a sender key, may
	// follow a full window of the previous sender's requests.
	StartEmpty bool
	// Unspaced leaves out the spacing (Window.Space): jobs then leave as
	// soon as the window allows, a whole window's worth at once.
	Unspaced bool
}

// Limiter paces jobs through a Window (a sliding 1-s-plus-headroom log of
// recipients) and adapts its limit: on a throttle signal it cuts it
// multiplicatively, then recovers additively (AIMD). Waiters are served in
// arrival order, so a big job is not starved by a stream of small ones.
// Safe for concurrent use.
type Limiter struct {
	// OnChange, if set, is called (outside the lock) on every cut and on
	// full recovery, with rates in recipients per second.
	OnChange func(old, new float64, reason string)

	mu        sync.Mutex
	now       func() time.Time
	after     func(time.Duration) <-chan time.Time
	win       *Window
	target    float64 // configured limit, recipients per window
	current   float64 // limit after AIMD, recipients per window
	minLimit  float64
	throttled bool
	lastCut   time.Time
	lastGrow  time.Time
	decrease  float64
	increase  float64 // share of target regained per quiet second
	cooldown  time.Duration
	queue     []*waiter // FIFO; queue[0] is the only one that sleeps on time
	hook      func(event string, at time.Time, n int)
	base      time.Duration // SpanFor(headroom): the span on a machine that keeps time
	lag       Lateness      // of the head's timer: the span is base + lag.Extra
}

type waiter struct {
	n     int
	wake  chan struct{} // cap 1: now head, admitted, or limits changed
	admit bool          // admitted by another caller on this one's behalf
}

// New returns a limiter for limit recipients in any 1-s window, counted over
// SpanFor(headroom), with the restart guard on (see Options.StartEmpty).
// burst is unused (the window admits any job up to the limit); it is kept
// so callers need not change.
func New(limit int, burst int, headroom float64) *Limiter {
	return NewLimiter(limit, headroom, Options{})
}

// NewLimiter is New with options.
func NewLimiter(limit int, headroom float64, o Options) *Limiter {
	l := &Limiter{now: o.Now, after: o.After, decrease: 0.7, increase: 0.05, cooldown: time.Second}
	if l.now == nil {
		l.now = time.Now
	}
	if l.after == nil {
		l.after = time.After
	}
	now := l.now()
	l.win = NewWindow(limit, SpanFor(headroom), now)
	if !o.StartEmpty {
		l.win.Fill(now)
	}
	if !o.Unspaced {
		l.win.Space()
	}
	l.SetLimit(limit, headroom)
	return l
}

// SetLimit changes the configured limit (a campaign's TPS was edited) and
// the headroom. A limit below 1 is taken as 1.
func (l *Limiter) SetLimit(limit int, headroom float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	target, base := float64(max(1, limit)), SpanFor(headroom)
	if target == l.target && base == l.base {
		return
	}
	l.base = base
	l.resize(l.now())
	l.target = target
	l.minLimit = math.Max(1, target/100)
	if !l.throttled || l.current > target {
		l.current = target
		l.throttled = false
	}
	l.apply()
	if len(l.queue) > 0 {
		signal(l.queue[0]) // the head's sleep may now be too long
	}
}

// Limit is the configured limit: the largest job Wait admits.
func (l *Limiter) Limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.target)
}

// Wait blocks until n recipients are admitted, or ctx is done. A job larger
// than the configured limit gets ErrTooLarge; one larger than a cut limit
// waits for an empty window (see Window.Admit).
func (l *Limiter) Wait(ctx context.Context, n int) error {
	if n <= 0 {
		return nil
	}
	l.mu.Lock()
	if err := ctx.Err(); err != nil {
		l.mu.Unlock()
		return err
	}
	var w *waiter
	var slept time.Time // when the last sleep on the timer began; zero if woken otherwise
	var sleep time.Duration
	for {
		var note change
		if !slept.IsZero() {
			now := l.now()
			l.lag.Note(now, now.Sub(slept)-sleep)
			slept = time.Time{}
		}
		if w != nil && w.admit {
			l.mu.Unlock()
			return nil
		}
		if w == nil && len(l.queue) == 0 || w != nil && l.queue[0] == w {
			now := l.now()
			l.resize(now)
			note = l.grow(now)
			ok, d := l.win.Admit(now, n)
			switch {
			case ok:
				l.admitted(now, n)
				if w != nil {
					l.pop()
				}
				l.drain(now)
				l.mu.Unlock()
				l.notify(note)
				return nil
			case d == Never:
				configured, _ := l.win.Limits()
				if w != nil {
					l.remove(w)
				}
				l.mu.Unlock()
				l.notify(note)
				return fmt.Errorf("%w: %d recipients, limit %d", ErrTooLarge, n, configured)
			}
			if w == nil {
				w = l.enqueue(now, n)
			}
			if l.throttled { // wake for the next second's regain
				d = min(d, l.lastGrow.Add(time.Second).Sub(now))
			}
			l.mu.Unlock()
			l.notify(note)
			select {
			case <-l.after(d):
				slept, sleep = now, d
			case <-w.wake:
			case <-ctx.Done():
				return l.cancel(w, ctx.Err())
			}
		} else {
			if w == nil {
				w = l.enqueue(l.now(), n)
			}
			l.mu.Unlock()
			select {
			case <-w.wake:
			case <-ctx.Done():
				return l.cancel(w, ctx.Err())
			}
		}
		l.mu.Lock()
	}
}

// resize sets the window's span to the headroom's plus the lateness guard.
func (l *Limiter) resize(now time.Time) {
	if span := l.base + l.lag.Extra(now); span != l.win.Span() {
		l.win.SetSpan(span)
	}
}

// Rate is the rate currently allowed, in recipients per second.
func (l *Limiter) Rate() float64 {
	l.mu.Lock()
	note := l.grow(l.now())
	r := l.perSecond(l.current)
	l.mu.Unlock()
	l.notify(note)
	return r
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
	l.current = math.Max(l.minLimit, l.current*l.decrease)
	l.lastCut, l.lastGrow, l.throttled = now, now, true
	l.apply()
	note := change{l.OnChange, l.perSecond(old), l.perSecond(l.current), reason}
	l.mu.Unlock()
	l.notify(note)
}

type change struct {
	cb       func(old, new float64, reason string)
	old, new float64
	reason   string
}

func (l *Limiter) notify(c change) {
	if c.cb != nil {
		c.cb(c.old, c.new, c.reason)
	}
}

// grow regains a share of the target for every whole second without a cut.
func (l *Limiter) grow(now time.Time) change {
	if !l.throttled {
		return change{}
	}
	secs := math.Floor(now.Sub(l.lastGrow).Seconds())
	if secs < 1 {
		return change{}
	}
	old := l.current
	l.current = math.Min(l.target, l.current+l.target*l.increase*secs)
	l.lastGrow = l.lastGrow.Add(time.Duration(secs) * time.Second)
	l.throttled = l.current < l.target
	l.apply()
	if l.throttled {
		return change{}
	}
	return change{l.OnChange, l.perSecond(old), l.perSecond(l.current), "recovered"}
}

func (l *Limiter) apply() {
	l.win.SetLimits(int(l.target), int(l.current+1e-9))
}

func (l *Limiter) perSecond(perWindow float64) float64 {
	return perWindow / l.win.Span().Seconds()
}

func (l *Limiter) enqueue(now time.Time, n int) *waiter {
	w := &waiter{n: n, wake: make(chan struct{}, 1)}
	l.queue = append(l.queue, w)
	if l.hook != nil {
		l.hook("queued", now, n)
	}
	return w
}

func (l *Limiter) admitted(now time.Time, n int) {
	if l.hook != nil {
		l.hook("admitted", now, n)
	}
}

// drain admits, in order, the queued jobs that fit now (saves each a
// goroutine hand-off), then wakes the new head to time its sleep.
func (l *Limiter) drain(now time.Time) {
	for len(l.queue) > 0 {
		h := l.queue[0]
		if ok, _ := l.win.Admit(now, h.n); !ok {
			signal(h)
			return
		}
		l.admitted(now, h.n)
		h.admit = true
		l.queue[0] = nil
		l.queue = l.queue[1:]
		signal(h)
	}
}

func (l *Limiter) pop() {
	l.queue[0] = nil
	l.queue = l.queue[1:]
	if len(l.queue) > 0 {
		signal(l.queue[0])
	}
}

func (l *Limiter) remove(w *waiter) {
	for i, q := range l.queue {
		if q == w {
			if i == 0 {
				l.pop()
			} else {
				l.queue = append(l.queue[:i], l.queue[i+1:]...)
			}
			return
		}
	}
}

// cancel leaves the queue; a job admitted meanwhile was counted, so it
// goes out rather than wasting its share of the window.
func (l *Limiter) cancel(w *waiter, err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.admit {
		return nil
	}
	l.remove(w)
	return err
}

func signal(w *waiter) {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}
