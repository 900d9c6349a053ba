package report

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/heraldhq/herald/loadtest/engine"
)

// WriteFindMax prints the steps of a search and its answer.
func WriteFindMax(w io.Writer, res *engine.FindMaxResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row(tw, "step", "rate/s", "achieved/s", "requests", "p50", "p95", "p99", "max", "errors", "cpu", "gen cpu", "result")
	for _, st := range res.Steps {
		verdict := "pass"
		if !st.Pass {
			verdict = "FAIL " + st.Reason
		}
		s := st.Stats
		row(tw, st.Kind, fmt.Sprintf("%g", st.Rate), fmt.Sprintf("%.1f", s.Rate), s.Requests,
			engine.FormatLatency(s.Latency.P50), engine.FormatLatency(s.Latency.P95), engine.FormatLatency(s.Latency.P99), engine.FormatLatency(s.Latency.Max),
			s.Errors, engine.FormatPercent(s.CPU), engine.FormatPercent(s.GeneratorCPU), verdict)
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
