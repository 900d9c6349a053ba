package engine

import "fmt"

// Answer is the search's conclusion in one sentence.
func (res *FindMaxResult) Answer() string {
	slo := fmt.Sprintf("p99 ≤ %s and errors ≤ %g%%", fmtLatency(res.SLOP99), 100*res.MaxErrorRate)
	if res.Best == nil {
		return fmt.Sprintf("no rate tried met %s; lower --start-rate", slo)
	}
	b := res.Best.Stats
	answer := fmt.Sprintf("max sustainable rate: %g/s (%s; p99 %s, target CPU %s, generator CPU %s)",
		res.Best.Rate, slo, fmtLatency(b.Latency.P99), fmtPercent(b.CPU), fmtPercent(b.GeneratorCPU))
	switch res.Limit {
	case LimitMaxRate:
		answer += "; every step up to --max-rate passed, so the limit is higher"
	case LimitGenerator:
		answer += "; the load generator ran out of CPU first, so the target's limit may be higher"
	}
	if res.Interrupted {
		answer += " (interrupted)"
	}
	return answer
}
