package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/heraldhq/herald/loadtest/engine"
)

// Chart colours.
const (
	colTarget = "#888888"
	colRate   = "#1f77b4"
	colP50    = "#2ca02c"
	colP95    = "#ff7f0e"
	colP99    = "#d62728"
	colCPU    = "#9467bd"
	colGen    = "#8c564b"
)

// page is what the HTML template renders.
type page struct {
	Title   string
	Summary string
	Charts  []template.HTML
	Tables  []table
	Notes   []string
}

// table is a titled table of text cells.
type table struct {
	Title  string
	Open   bool // shown unfolded
	Header []string
	Rows   [][]string
}

var pageTemplate = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px} h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:12px}
th,td{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right} th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}
svg .plot{fill:none;stroke:#bbb} svg .grid{stroke:#eee} svg text{font-size:11px;fill:#444}
svg .title{font-size:13px;font-weight:600} svg .ytick{text-anchor:end} svg .xtick,svg .xlabel,svg .ylabel{text-anchor:middle}
.note{color:#a33}
</style></head><body>
<h1>{{.Title}}</h1><p>{{.Summary}}</p>
{{range .Charts}}<div>{{.}}</div>{{end}}
{{range .Tables}}<details{{if .Open}} open{{end}}><summary><h2 style="display:inline">{{.Title}}</h2></summary>
<table><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table></details>{{end}}
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
</body></html>
`))

// statsHeader heads every table of Stats rows after its leading cells.
var statsHeader = []string{"secs", "target/s", "achieved/s", "requests", "p50", "p95", "p99", "max", "errors", "cpu", "gen cpu", "codes"}

func statsCells(s engine.Stats) []string {
	behind := ""
	if s.Behind {
		behind = " (behind)"
	}
	return []string{fmt.Sprintf("%.1f", s.Seconds), fmt.Sprintf("%.1f", s.TargetRate), fmt.Sprintf("%.1f%s", s.Rate, behind),
		fmt.Sprint(s.Requests), engine.FormatLatency(s.Latency.P50), engine.FormatLatency(s.Latency.P95), engine.FormatLatency(s.Latency.P99),
		engine.FormatLatency(s.Latency.Max), fmt.Sprint(s.Errors), engine.FormatPercent(s.CPU), engine.FormatPercent(s.GeneratorCPU), sortedCodes(s.Codes)}
}

// WriteHTML writes a self-contained report of a run: charts of rate,
// latency and CPU over time, and the phase and per-second tables.
func WriteHTML(w io.Writer, rep *engine.Report) error {
	p := page{Title: "herald loadtest — " + rep.Target, Notes: rep.Warnings,
		Summary: fmt.Sprintf("Started %s; %.1f s, %d requests, %d errors, p99 %s.%s", rep.Started.Format(time.RFC3339),
			rep.Total.Seconds, rep.Total.Requests, rep.Total.Errors, engine.FormatLatency(rep.Total.Latency.P99), interrupted(rep))}
	p.Charts = secondCharts(rep.Seconds)
	phases := table{Title: "Phases", Open: true, Header: append([]string{"phase", "start"}, statsHeader...)}
	for _, ph := range rep.Phases {
		phases.Rows = append(phases.Rows, append([]string{ph.Name, fmt.Sprintf("%.0f", ph.Start)}, statsCells(ph.Stats)...))
	}
	phases.Rows = append(phases.Rows, append([]string{"total", "0"}, statsCells(rep.Total)...))
	secs := table{Title: "Per second", Header: append([]string{"second", "phase"}, statsHeader...)}
	for _, s := range rep.Seconds {
		secs.Rows = append(secs.Rows, append([]string{fmt.Sprint(s.Second), s.Phase}, statsCells(s.Stats)...))
	}
	p.Tables = []table{phases, secs, errorTable(rep.Errors)}
	return pageTemplate.Execute(w, p)
}

func secondCharts(secs []engine.SecondStats) []template.HTML {
	line := func(name, color string, dashed bool, f func(engine.Stats) float64) series {
		s := series{name: name, color: color, dashed: dashed}
		for _, sec := range secs {
			s.points = append(s.points, point{float64(sec.Second), f(sec.Stats)})
		}
		return s
	}
	return []template.HTML{
		chart{title: "Request rate", xLabel: "second", yLabel: "requests/s", series: []series{
			line("target", colTarget, true, func(s engine.Stats) float64 { return s.TargetRate }),
			line("achieved", colRate, false, func(s engine.Stats) float64 { return s.Rate })}}.svg(),
		chart{title: "Latency", xLabel: "second", yLabel: "ms", series: []series{
			line("p50", colP50, false, latencyMs(func(l engine.Latency) time.Duration { return l.P50 })),
			line("p95", colP95, false, latencyMs(func(l engine.Latency) time.Duration { return l.P95 })),
			line("p99", colP99, false, latencyMs(func(l engine.Latency) time.Duration { return l.P99 }))}}.svg(),
		chart{title: "CPU (% of one core)", xLabel: "second", yLabel: "%", series: []series{
			line("target", colCPU, false, func(s engine.Stats) float64 { return orNaN(s.CPU) }),
			line("generator", colGen, true, func(s engine.Stats) float64 { return orNaN(s.GeneratorCPU) })}}.svg(),
	}
}

// latencyMs reads one percentile in milliseconds; NaN for a second without requests.
func latencyMs(pick func(engine.Latency) time.Duration) func(engine.Stats) float64 {
	return func(s engine.Stats) float64 {
		if s.Requests == 0 {
			return math.NaN()
		}
		return float64(pick(s.Latency)) / 1e6
	}
}

func orNaN(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func errorTable(errs map[string]int) table {
	t := table{Title: "Errors", Open: len(errs) > 0, Header: []string{"error", "count"}}
	for msg, n := range errs {
		t.Rows = append(t.Rows, []string{msg, fmt.Sprint(n)})
	}
	sort.Slice(t.Rows, func(i, j int) bool { return errs[t.Rows[i][0]] > errs[t.Rows[j][0]] })
	return t
}

// WriteFindMaxHTML writes a self-contained report of a search: achieved
// rate, p99 and CPU against the rate tried, and the table of steps.
func WriteFindMaxHTML(w io.Writer, res *engine.FindMaxResult) error {
	p := page{Title: "herald loadtest --find-max — " + res.Target, Summary: res.Answer(), Charts: stepCharts(res)}
	t := table{Title: "Steps", Open: true, Header: slices.Concat([]string{"step", "rate"}, statsHeader, []string{"result"})}
	for _, st := range res.Steps {
		verdict := "pass"
		if !st.Pass {
			verdict = "fail: " + st.Reason
		}
		t.Rows = append(t.Rows, slices.Concat([]string{st.Kind, fmt.Sprintf("%g", st.Rate)}, statsCells(st.Stats), []string{verdict}))
	}
	p.Tables = []table{t}
	for _, st := range res.Steps {
		for _, warn := range st.Warnings {
			p.Notes = append(p.Notes, fmt.Sprintf("%s %g/s: %s", st.Kind, st.Rate, warn))
		}
	}
	return pageTemplate.Execute(w, p)
}

// stepCharts plots the steps by the rate tried.
func stepCharts(res *engine.FindMaxResult) []template.HTML {
	steps := append([]engine.Step(nil), res.Steps...)
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].Rate < steps[j].Rate })
	line := func(name, color string, dashed bool, f func(engine.Step) float64) series {
		s := series{name: name, color: color, dashed: dashed, dots: true}
		for _, st := range steps {
			s.points = append(s.points, point{st.Rate, f(st)})
		}
		return s
	}
	const x = "rate tried (requests/s)"
	return []template.HTML{
		chart{title: "Achieved rate", xLabel: x, yLabel: "requests/s", series: []series{
			line("tried", colTarget, true, func(s engine.Step) float64 { return s.Rate }),
			line("achieved", colRate, false, func(s engine.Step) float64 { return s.Stats.Rate })}}.svg(),
		chart{title: "Latency", xLabel: x, yLabel: "ms", series: []series{
			line("objective p99", colTarget, true, func(engine.Step) float64 { return float64(res.SLOP99) / 1e6 }),
			line("p50", colP50, false, func(s engine.Step) float64 { return float64(s.Stats.Latency.P50) / 1e6 }),
			line("p99", colP99, false, func(s engine.Step) float64 { return float64(s.Stats.Latency.P99) / 1e6 })}}.svg(),
		chart{title: "CPU (% of one core)", xLabel: x, yLabel: "%", series: []series{
			line("target", colCPU, false, func(s engine.Step) float64 { return orNaN(s.Stats.CPU) }),
			line("generator", colGen, true, func(s engine.Step) float64 { return orNaN(s.Stats.GeneratorCPU) })}}.svg(),
	}
}
