package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/loadtest/engine"
)

func sampleReport() *engine.Report {
	cpu := 42.0
	st := engine.Stats{Seconds: 1, Scheduled: 100, Requests: 90, TargetRate: 100, Rate: 90, Errors: 1, ErrorRate: 1.0 / 90,
		Latency: engine.Latency{P50: time.Millisecond, P95: 2 * time.Millisecond, P99: 3 * time.Millisecond, Max: 4 * time.Millisecond},
		Codes:   map[string]int{"200": 89, "0": 1}, CPU: &cpu, Behind: true}
	return &engine.Report{Target: "http://t<x>", Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Total: st,
		Phases:   []engine.PhaseStats{{Name: "Warm up", Stats: st}},
		Seconds:  []engine.SecondStats{{Second: 0, Phase: "Warm up", Stats: st}, {Second: 1, Phase: "Warm up", Stats: engine.Stats{Seconds: 1}}},
		Errors:   map[string]int{"connection refused": 1},
		Warnings: []string{"the generator started under 95% …"}}
}

func TestWriteText(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteText(&b, sampleReport(), true); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"phase", "achieved/s", "Warm up", "90.0 !", "3.00ms", "42%", "0:1 200:89", "connection refused", "warning: "} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteHTMLIsSelfContained(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteHTML(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Count(out, "<svg") != 3 || strings.Contains(out, "<script") || strings.Contains(out, "http://t<x>") ||
		strings.Contains(out, "src=") || !strings.Contains(out, "<polyline") {
		t.Fatalf("html:\n%s", out)
	}
	var fb bytes.Buffer
	res := &engine.FindMaxResult{Target: "http://t", SLOP99: 50 * time.Millisecond, Steps: []engine.Step{
		{Kind: "step", Rate: 100, Pass: true, Stats: sampleReport().Total},
		{Kind: "step", Rate: 200, Reason: "p99 60ms > 50ms", Stats: sampleReport().Total}}}
	res.Best = &res.Steps[0]
	if err := WriteFindMaxHTML(&fb, res); err != nil {
		t.Fatal(err)
	}
	if strings.Count(fb.String(), "<svg") != 3 || !strings.Contains(fb.String(), "max sustainable rate: 100/s") {
		t.Fatalf("find-max html:\n%s", fb.String())
	}
}

func TestReportJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	lat := back["total"].(map[string]any)["latency"].(map[string]any)
	if lat["p99Ms"] != 3.0 || back["total"].(map[string]any)["targetCpu"] != 42.0 {
		t.Fatalf("json %s", b)
	}
}

func TestWriteFindMax(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	res := &engine.FindMaxResult{SLOP99: 50 * time.Millisecond, MaxErrorRate: 0.001, Limit: engine.LimitGenerator,
		Steps: []engine.Step{{Kind: "step", Rate: 100, Pass: true}, {Kind: "bisect", Rate: 150, Reason: "p99 60ms > 50ms"}}}
	res.Best = &res.Steps[0]
	if err := WriteFindMax(&b, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"bisect", "FAIL p99 60ms > 50ms", "max sustainable rate: 100/s", "p99 ≤ 50.0ms and errors ≤ 0.1%", "generator ran out"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
