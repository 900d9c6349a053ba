package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// behindRatio: a second whose request starts fall below this share of the
// schedule is one the generator did not keep up with.
const behindRatio = 0.95

// behindMinimum is the fewest arrivals due in a second for it to be judged:
// a handful cannot be 95 % of anything.
const behindMinimum = 10

// Latency summarises latencies: from the start of a request to the end of its response.
type Latency struct {
	P50, P95, P99, Max time.Duration
}

// MarshalJSON writes milliseconds.
func (l Latency) MarshalJSON() ([]byte, error) {
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	return json.Marshal(map[string]float64{"p50Ms": ms(l.P50), "p95Ms": ms(l.P95), "p99Ms": ms(l.P99), "maxMs": ms(l.Max)})
}

// Stats summarises the requests that started in an interval.
type Stats struct {
	Seconds      float64        `json:"seconds"`
	Scheduled    float64        `json:"scheduled"` // arrivals due by the schedule
	Requests     int            `json:"requests"`  // requests started
	TargetRate   float64        `json:"targetRate"`
	Rate         float64        `json:"rate"` // requests started per second
	Latency      Latency        `json:"latency"`
	Codes        map[string]int `json:"codes"` // "0": no response
	Errors       int            `json:"errors"`
	ErrorRate    float64        `json:"errorRate"`
	CPU          *float64       `json:"targetCpu,omitempty"` // % of one core
	GeneratorCPU *float64       `json:"generatorCpu,omitempty"`
	Behind       bool           `json:"behind,omitempty"`
}

// PhaseStats is a phase's summary.
type PhaseStats struct {
	Name  string  `json:"name"`
	Start float64 `json:"start"` // seconds into the run
	Stats
}

// SecondStats is one second's summary.
type SecondStats struct {
	Second int    `json:"second"`
	Phase  string `json:"phase"`
	Stats
}

// Report is the outcome of a run.
type Report struct {
	Target       string         `json:"target"`
	Started      time.Time      `json:"started"`
	Interrupted  bool           `json:"interrupted,omitempty"`
	MaxWorkers   uint64         `json:"maxWorkers"`
	PeakInFlight uint64         `json:"peakInFlight"`
	Total        Stats          `json:"total"`
	Phases       []PhaseStats   `json:"phases"`
	Seconds      []SecondStats  `json:"seconds"`
	Errors       map[string]int `json:"errors,omitempty"` // message → count
	Warnings     []string       `json:"warnings,omitempty"`
}

// reportInput is what a finished run hands to buildReport.
type reportInput struct {
	target   string
	start    time.Time
	end      time.Duration
	sched    Schedule
	rec      *recorder
	cpu      *cpuSampler
	workers  uint64
	peak     uint64
	canceled bool
}

func buildReport(in reportInput) *Report {
	rep := &Report{Target: in.target, Started: in.start, Interrupted: in.canceled,
		MaxWorkers: in.workers, PeakInFlight: in.peak, Errors: in.rec.errorCounts()}
	all := in.rec.span(0, math.MaxInt)
	rep.Total = in.stats(&all, 0, in.end)
	phases := in.sched.Phases()
	for i, ph := range phases {
		b := in.rec.phase(i)
		from := in.sched.PhaseStart(i)
		to := min(from+ph.Duration, in.end)
		if i == len(phases)-1 {
			to = in.end // requests started late count in the last phase
		}
		rep.Phases = append(rep.Phases, PhaseStats{Name: ph.Name, Start: from.Seconds(), Stats: in.stats(&b, from, to)})
	}
	n := max(int(math.Ceil(in.end.Seconds())), in.rec.length())
	for s := range n {
		b := in.rec.span(s, s+1)
		from := time.Duration(s) * time.Second
		st := in.stats(&b, from, max(min(from+time.Second, in.end), from+time.Millisecond))
		rep.Seconds = append(rep.Seconds, SecondStats{Second: s, Phase: in.phaseName(from), Stats: st})
	}
	rep.Warnings = warnings(rep, in.cpu)
	return rep
}

func (in reportInput) phaseName(t time.Duration) string {
	if t >= in.sched.Duration() {
		return "(after)"
	}
	return in.sched.Phases()[in.sched.Phase(t)].Name
}

// stats summarises b, the requests started in [from, to).
func (in reportInput) stats(b *bucket, from, to time.Duration) Stats {
	secs := max((to - from).Seconds(), 1e-9)
	due := in.sched.Hits(to) - in.sched.Hits(from)
	s := Stats{Seconds: secs, Scheduled: due, Requests: b.requests, TargetRate: due / secs,
		Rate: float64(b.requests) / secs, Errors: b.errors, Codes: make(map[string]int, len(b.codes))}
	s.Latency = Latency{P50: b.hist.quantile(0.50), P95: b.hist.quantile(0.95), P99: b.hist.quantile(0.99), Max: b.hist.max}
	for c, n := range b.codes {
		s.Codes[strconv.Itoa(int(c))] = n
	}
	if b.requests > 0 {
		s.ErrorRate = float64(b.errors) / float64(b.requests)
	}
	target, self := in.cpu.between(from, to)
	s.CPU, s.GeneratorCPU = finite(target), finite(self)
	s.Behind = due >= behindMinimum && float64(b.requests) < behindRatio*due
	return s
}

func finite(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	f = math.Round(f*10) / 10
	return &f
}

// warnings explains what the numbers cannot show by themselves.
func warnings(rep *Report, cpu *cpuSampler) []string {
	var out []string
	behind := 0
	for _, s := range rep.Seconds {
		if s.Behind {
			behind++
		}
	}
	if behind > 0 {
		out = append(out, fmt.Sprintf("the generator started under %.0f%% of the scheduled requests in %d of %d seconds: %s",
			behindRatio*100, behind, len(rep.Seconds), behindCause(rep.PeakInFlight, rep.MaxWorkers)))
	}
	if w := cpu.warning(); w != "" {
		out = append(out, w)
	}
	return out
}

// behindCause tells a slow target (every worker waiting) from a generator
// short of CPU.
func behindCause(peak, workers uint64) string {
	if workers > 0 && float64(peak) >= 0.9*float64(workers) {
		return fmt.Sprintf("all %d workers were waiting on responses, so the target is too slow for this rate (raise --max-workers to keep an open model)", workers)
	}
	return "the load generator itself is short of CPU; the rates measured above its limit are not the target's"
}
