package loadtest

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteFindMax prints the steps of a search and its answer.
func WriteFindMax(w io.Writer, res *FindMaxResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row(tw, "step", "rate/s", "achieved/s", "requests", "p50", "p95", "p99", "max", "errors", "cpu", "gen cpu", "result")
	for _, st := range res.Steps {
		verdict := "pass"
		if !st.Pass {
			verdict = "FAIL " + st.Reason
		}
		s := st.Stats
		row(tw, st.Kind, fmt.Sprintf("%g", st.Rate), fmt.Sprintf("%.1f", s.Rate), s.Requests,
			fmtLatency(s.Latency.P50), fmtLatency(s.Latency.P95), fmtLatency(s.Latency.P99), fmtLatency(s.Latency.Max),
			s.Errors, fmtPercent(s.CPU), fmtPercent(s.GeneratorCPU), verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, st := range res.Steps {
		for _, warn := range st.Warnings {
			fmt.Fprintf(w, "warning: %s %g/s: %s\n", st.Kind, st.Rate, warn)
		}
	}
	_, err := fmt.Fprintln(w, "\n"+res.Answer())
	return err
}

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
