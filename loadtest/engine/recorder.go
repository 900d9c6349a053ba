package engine

import (
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// maxErrorKinds bounds the distinct error messages kept; the rest are "other".
const maxErrorKinds = 20

// bucket is the results of requests that started in one second.
type bucket struct {
	requests int
	errors   int
	codes    map[uint16]int
	hist     histogram
}

func (b *bucket) add(o *bucket) {
	b.requests += o.requests
	b.errors += o.errors
	if b.codes == nil {
		b.codes = make(map[uint16]int, len(o.codes))
	}
	for c, n := range o.codes {
		b.codes[c] += n
	}
	b.hist.merge(&o.hist)
}

// recorder files results by the second their request started in. The
// progress line reads it while results arrive, hence the lock.
// Results are also filed by phase, whose bounds need not fall on a second.
type recorder struct {
	mu      sync.Mutex
	start   time.Time
	phaseOf func(time.Duration) int
	seconds []*bucket
	phases  []bucket
	errs    map[string]int
	done    int
	last    time.Duration // latest start
}

func newRecorder(start time.Time, phases int, phaseOf func(time.Duration) int) *recorder {
	return &recorder{start: start, phaseOf: phaseOf, phases: make([]bucket, phases), errs: make(map[string]int)}
}

func (r *recorder) add(res *vegeta.Result) {
	at := max(res.Timestamp.Sub(r.start), 0)
	sec := int(at / time.Second)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = max(r.last, at)
	for len(r.seconds) <= sec {
		r.seconds = append(r.seconds, &bucket{})
	}
	r.seconds[sec].record(res)
	if p := r.phaseOf(at); p >= 0 && p < len(r.phases) {
		r.phases[p].record(res)
	}
	r.done++
	if res.Error != "" {
		r.countError(res.Error)
	}
}

func (b *bucket) record(res *vegeta.Result) {
	if b.codes == nil {
		b.codes = make(map[uint16]int, 2)
	}
	b.requests++
	b.codes[res.Code]++
	b.hist.record(res.Latency)
	if res.Error != "" {
		b.errors++
	}
}

// phase returns a copy of phase i's results.
func (r *recorder) phase(i int) bucket {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out bucket
	out.add(&r.phases[i])
	return out
}

func (r *recorder) countError(msg string) {
	if _, ok := r.errs[msg]; !ok && len(r.errs) >= maxErrorKinds {
		msg = "other"
	}
	r.errs[msg]++
}

// span merges the seconds in [from, to).
func (r *recorder) span(from, to int) bucket {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out bucket
	for i := max(from, 0); i < min(to, len(r.seconds)); i++ {
		out.add(r.seconds[i])
	}
	return out
}

// completed is the number of results received.
func (r *recorder) completed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done
}

// errorCounts returns the error messages seen and how often.
func (r *recorder) errorCounts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.errs))
	for k, v := range r.errs {
		out[k] = v
	}
	return out
}

// lastStart is when the latest request started.
func (r *recorder) lastStart() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// length is the number of seconds with results.
func (r *recorder) length() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seconds)
}
