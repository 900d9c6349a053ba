package report

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/heraldhq/herald/loadtest/engine"
)

// WriteText prints the report as tables: totals, phases and, when
// perSecond is set, every second; then errors and warnings.
func WriteText(w io.Writer, rep *engine.Report, perSecond bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "target %s, started %s, %.1f s, %d requests, %d errors%s\n\n", rep.Target,
		rep.Started.Format("2006-01-02 15:04:05"), rep.Total.Seconds, rep.Total.Requests, rep.Total.Errors, interrupted(rep))
	row(tw, "phase", "start", "secs", "target/s", "achieved/s", "requests", "p50", "p95", "p99", "max", "errors", "cpu", "gen cpu", "codes")
	for _, ph := range rep.Phases {
		statsRow(tw, []any{ph.Name, fmt.Sprintf("%.0f", ph.Start)}, ph.Stats)
	}
	statsRow(tw, []any{"total", "0"}, rep.Total)
	if err := tw.Flush(); err != nil {
		return err
	}
	if perSecond {
		fmt.Fprintln(w)
		row(tw, "second", "phase", "secs", "target/s", "achieved/s", "requests", "p50", "p95", "p99", "max", "errors", "cpu", "gen cpu", "codes")
		for _, s := range rep.Seconds {
			statsRow(tw, []any{s.Second, s.Phase}, s.Stats)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	writeNotes(w, rep.Errors, rep.Warnings)
	return nil
}

func interrupted(rep *engine.Report) string {
	if rep.Interrupted {
		return " (interrupted)"
	}
	return ""
}

// statsRow writes the leading cells, then the columns every table shares.
func statsRow(w io.Writer, lead []any, s engine.Stats) {
	mark := ""
	if s.Behind {
		mark = " !"
	}
	cells := append(lead, fmt.Sprintf("%.1f", s.Seconds), fmt.Sprintf("%.1f", s.TargetRate),
		fmt.Sprintf("%.1f%s", s.Rate, mark), s.Requests,
		engine.FormatLatency(s.Latency.P50), engine.FormatLatency(s.Latency.P95), engine.FormatLatency(s.Latency.P99), engine.FormatLatency(s.Latency.Max),
		s.Errors, engine.FormatPercent(s.CPU), engine.FormatPercent(s.GeneratorCPU), sortedCodes(s.Codes))
	row(w, cells...)
}

// row writes one tab-separated row; tabwriter needs a trailing tab to align the last cell.
func row(w io.Writer, cells ...any) {
	for _, c := range cells {
		fmt.Fprint(w, c, "\t")
	}
	fmt.Fprintln(w)
}

// writeNotes prints the most frequent errors and the warnings.
func writeNotes(w io.Writer, errs map[string]int, warns []string) {
	if len(errs) > 0 {
		keys := make([]string, 0, len(errs))
		for k := range errs {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return errs[keys[i]] > errs[keys[j]] })
		fmt.Fprintln(w, "\nerrors:")
		for _, k := range keys {
			fmt.Fprintf(w, "  %8d  %s\n", errs[k], strings.TrimSpace(k))
		}
	}
	if len(warns) > 0 {
		fmt.Fprintln(w)
	}
	for _, s := range warns {
		fmt.Fprintln(w, "warning: "+s)
	}
}

// sortedCodes renders status counts as "200:123 429:4".
func sortedCodes(codes map[string]int) string {
	keys := make([]string, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := ""
	for i, k := range keys {
		if i > 0 {
			out += " "
		}
		out += k + ":" + strconv.Itoa(codes[k])
	}
	return out
}
