package pace

import (
	"math"
	"sort"
	"time"
)

// Never is the wait Admit gives for a job larger than the configured limit:
// no amount of waiting lets it through.
const Never = time.Duration(math.MaxInt64)

// SpanFor is the window a limit is counted over for a headroom: 1 s
// stretched by the headroom, so the steady rate is limit/(1+headroom) per
// second and a 1-s window at the provider still holds at most the limit
// when arrivals bunch by up to headroom × 1 s.
func SpanFor(headroom float64) time.Duration {
	return time.Duration(float64(time.Second) * (1 + max(0, headroom)))
}

// Window is a sliding-log limiter: it admits n recipients at now iff the
// recipients admitted in (now − span, now] plus n are at most the current
// limit. With span ≥ 1 s, any 1-s window then holds at most the limit for
// any sequence of job sizes, because every admission saw the whole 1 s
// before it. It is pure and deterministic (time comes from the caller) and
// not safe for concurrent use.
type Window struct {
	base  time.Time
	span  time.Duration
	max   int // configured limit: larger jobs are refused
	limit int // current limit, ≤ max (lower after an AIMD cut)
	ents  []entry
	head  int           // ents[:head] have left the window
	gone  int64         // cum of the last entry that left
	total int64         // cum of the newest entry
	last  time.Duration // latest time seen: time never runs backwards here
	until time.Duration // nothing is admitted before this (see Fill)
	tat   time.Duration // spacing (GCRA): when the flow is caught up
	space bool          // see Space
}

// Space turns spacing on: besides the window rule, jobs leave no faster than
// the window's rate, with a tenth of the span of tolerance for bursts (see
// Admit). Limiters space by default.
func (w *Window) Space() { w.space = true }

type entry struct {
	at  time.Duration // since base
	cum int64         // recipients admitted up to and including this entry
}

// NewWindow returns an empty window counting limit recipients over span
// (use SpanFor), with start as its time origin.
func NewWindow(limit int, span time.Duration, start time.Time) *Window {
	w := &Window{base: start, span: span}
	w.SetLimits(limit, limit)
	return w
}

// SetLimits sets the configured limit (at least 1) and the current one,
// clamped to [1, configured]. Recipients already admitted stay counted, so
// after a cut nothing is admitted until enough of them have expired.
func (w *Window) SetLimits(configured, current int) {
	w.max = max(1, configured)
	w.limit = min(max(1, current), w.max)
}

// SetSpan changes the window length; admissions keep their times.
func (w *Window) SetSpan(span time.Duration) { w.span = span }

// Limits returns the configured and the current limit.
func (w *Window) Limits() (configured, current int) { return w.max, w.limit }

// Span is the window length.
func (w *Window) Span() time.Duration { return w.span }

// Fill counts the window as full at now: nothing is admitted before
// now + span. A new sender cannot know what its predecessor (a process
// restarted within the second, a standby taking over a sender key) sent
// just before now, and in the worst case that was the whole limit.
func (w *Window) Fill(now time.Time) {
	w.until = max(w.until, w.clock(now)+w.span)
}

// Count is the number of recipients in the window (now − span, now].
func (w *Window) Count(now time.Time) int {
	w.expire(w.clock(now))
	return int(w.total - w.gone)
}

// Admit admits n recipients at now if they fit, or says how long until
// enough of the window has expired (the wait is exact if nothing else is
// admitted meanwhile and the limits do not change).
//
// A job larger than the current limit but not the configured one (after a
// cut, or a frozen request from a bigger batch size) is admitted alone into
// an empty window: waiting cannot make it fit, and refusing it forever would
// deadlock. That window then holds more than the cut limit, never more than
// the configured one. A job larger than the configured limit gets Never.
func (w *Window) Admit(now time.Time, n int) (ok bool, wait time.Duration) {
	if n <= 0 {
		return true, 0
	}
	if n > w.max {
		return false, Never
	}
	t := w.clock(now)
	w.expire(t)
	in := int(w.total - w.gone)
	limit := max(w.limit, n) // n > limit: fits only an empty window
	// Spacing: the window alone bounds every second but would let a whole
	// window leave at its start; a burst spread out by network jitter could
	// then meet the next one inside one second at the provider. So jobs are
	// also spaced at the window's rate, with a tenth of the span of
	// tolerance for bursts.
	tau := w.span / 10
	if !w.space {
		tau = w.tat - t // never binds
	}
	if t >= w.until && t >= w.tat-tau && in+n <= limit {
		w.push(t, n)
		w.tat = max(w.tat, t) + w.span*time.Duration(n)/time.Duration(max(w.limit, 1))
		return true, 0
	}
	if need := int64(in + n - limit); need > 0 {
		// need ≤ in, so some entry frees enough; cums are increasing.
		live := w.ents[w.head:]
		i := sort.Search(len(live), func(i int) bool { return live[i].cum-w.gone >= need })
		wait = live[i].at + w.span - t
	}
	if w.space {
		wait = max(wait, w.tat-tau-t)
	}
	return false, max(wait, w.until-t)
}

func (w *Window) clock(now time.Time) time.Duration {
	w.last = max(w.last, now.Sub(w.base))
	return w.last
}

func (w *Window) expire(t time.Duration) {
	for w.head < len(w.ents) && w.ents[w.head].at <= t-w.span {
		w.gone = w.ents[w.head].cum
		w.head++
	}
	// Keep memory to about twice the entries in the window.
	if w.head == len(w.ents) {
		w.ents, w.head = w.ents[:0], 0
	} else if w.head >= 1024 && 2*w.head >= len(w.ents) {
		w.ents = w.ents[:copy(w.ents, w.ents[w.head:])]
		w.head = 0
	}
}

func (w *Window) push(t time.Duration, n int) {
	w.total += int64(n)
	if k := len(w.ents) - 1; k >= w.head && w.ents[k].at == t {
		w.ents[k].cum = w.total // same instant: one entry
		return
	}
	w.ents = append(w.ents, entry{at: t, cum: w.total})
}
