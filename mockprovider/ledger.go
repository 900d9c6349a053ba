package mockprovider

import (
	"sync"
	"time"

	"github.com/heraldhq/herald/infobank"
)

// maxExamples bounds the duplicate examples in Stats.
const maxExamples = 10

// maxIdemKeys bounds the idempotency keys remembered; the oldest go first.
const maxIdemKeys = 1_000_000

// ledger decides, under one mutex, which destinations of a request are
// accepted: replays of an idempotency key are answered from memory, the
// rest must fit in the trailing-second window or the request is refused
// whole. It also keeps the counts that Stats reports.
type ledger struct {
	mu   sync.Mutex
	tps  int
	last time.Time // latest acceptance time, so the window never goes back
	win  *window
	idem *idemStore
	seen counter // deliveries per recipient number
	refs counter // deliveries per destination ref
	secs *perSecond

	accepted, replayed, rateLimited, rateLimitedRequests int64
	maxWindow                                            int
	overLimit                                            int64
}

func newLedger(tps, seconds int) *ledger {
	return &ledger{
		tps: tps, win: newWindow(time.Second), idem: newIdemStore(maxIdemKeys),
		seen: newCounter(), refs: newCounter(), secs: newPerSecond(seconds),
	}
}

// admission is the ledger's answer for one request.
type admission struct {
	// rateLimited: nothing was accepted, answer 429.
	rateLimited bool
	// msgKeys holds, per destination index, the msgKey of an accepted or
	// replayed destination ("" for the others).
	msgKeys []string
	// replay marks destinations accepted earlier under the same key.
	replay []bool
	// at is the acceptance time.
	at time.Time
}

// fresh counts the destinations accepted now (not replays).
func (a admission) fresh() int {
	n := 0
	for i, k := range a.msgKeys {
		if k != "" && !a.replay[i] {
			n++
		}
	}
	return n
}

// admit accepts the destinations at indexes valid, unless they would push
// the window over the limit. newKey makes msgKeys.
func (l *ledger) admit(req *infobank.SendRequest, valid []int, now time.Time, newKey func(time.Time) string) admission {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.last) {
		now = l.last
	}
	a := admission{msgKeys: make([]string, len(req.Destinations)), replay: make([]bool, len(req.Destinations)), at: now}
	entry := l.idem.get(req.IdempotencyKey, now)
	fresh := valid[:0:0]
	for _, i := range valid {
		if k := entry.lookup(req.Destinations[i]); k != "" {
			a.msgKeys[i], a.replay[i] = k, true
			continue
		}
		fresh = append(fresh, i)
	}
	l.replayed += int64(len(valid) - len(fresh))
	if len(fresh) > 0 && l.win.count(now)+len(fresh) > l.tps {
		l.rateLimited += int64(len(fresh))
		l.rateLimitedRequests++
		return admission{rateLimited: true}
	}
	l.commit(req, fresh, now, newKey, &a)
	return a
}

// commit records the acceptance of the fresh destinations.
func (l *ledger) commit(req *infobank.SendRequest, fresh []int, now time.Time, newKey func(time.Time) string, a *admission) {
	if len(fresh) == 0 {
		return
	}
	l.last = now
	n := l.win.add(now, len(fresh))
	l.maxWindow = max(l.maxWindow, n)
	if n > l.tps {
		l.overLimit++
	}
	l.secs.add(now, len(fresh))
	l.accepted += int64(len(fresh))
	entry := l.idem.put(req, now)
	for _, i := range fresh {
		d := req.Destinations[i]
		a.msgKeys[i] = newKey(now)
		l.seen.add(d.To)
		if d.Ref != "" {
			l.refs.add(d.Ref)
		}
		entry.record(d, a.msgKeys[i])
	}
}

// snapshot copies the ledger's part of the statistics into s.
func (l *ledger) snapshot(s *Stats) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s.Accepted, s.Replayed = l.accepted, l.replayed
	s.RefusedRateLimit, s.RateLimitedRequests = l.rateLimited, l.rateLimitedRequests
	s.MaxWindow, s.WindowsOverLimit = l.maxWindow, l.overLimit
	s.UniqueRecipients, s.DuplicateRecipients = len(l.seen.n), l.seen.dups
	s.DuplicateRecipientExamples = append([]string{}, l.seen.examples...)
	s.UniqueRefs, s.DuplicateRefs = len(l.refs.n), l.refs.dups
	s.DuplicateRefExamples = append([]string{}, l.refs.examples...)
	s.PerSecond = l.secs.list()
}

// counter counts deliveries per key and remembers a few keys seen twice.
type counter struct {
	n        map[string]int32
	dups     int
	examples []string
}

func newCounter() counter { return counter{n: make(map[string]int32)} }

func (c *counter) add(k string) {
	c.n[k]++
	if c.n[k] != 2 {
		return
	}
	c.dups++
	if len(c.examples) < maxExamples {
		c.examples = append(c.examples, k)
	}
}

// perSecond keeps accepted counts per wall-clock second in a ring.
type perSecond struct {
	ring []SecondCount
	last int64
}

func newPerSecond(n int) *perSecond { return &perSecond{ring: make([]SecondCount, n)} }

func (p *perSecond) add(at time.Time, n int) {
	sec := at.Unix()
	slot := &p.ring[int(uint64(sec)%uint64(len(p.ring)))]
	if slot.Second != sec {
		*slot = SecondCount{Second: sec}
	}
	slot.Accepted += n
	p.last = max(p.last, sec)
}

// list returns the kept seconds with acceptances, oldest first.
func (p *perSecond) list() []SecondCount {
	out := []SecondCount{}
	for sec := p.last - int64(len(p.ring)) + 1; sec <= p.last; sec++ {
		if s := p.ring[int(uint64(sec)%uint64(len(p.ring)))]; s.Second == sec && s.Accepted > 0 {
			out = append(out, s)
		}
	}
	return out
}
