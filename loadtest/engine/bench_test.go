package engine

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/heraldhq/herald/loadtest/scenario"
)

// BenchmarkGenerator measures the load generator itself: the seed flow
// (template, JSON body, headers) at an unreachable rate against a no-op
// handler in the same process, so the figure includes that server's share
// of the CPU. It reports requests started per second.
func BenchmarkGenerator(b *testing.B) {
	srv := httptest.NewServer(NoopHandler())
	defer srv.Close()
	sc, err := scenario.Parse(readSeed(b))
	if err != nil {
		b.Fatal(err)
	}
	const rate = 1e6
	cfg := Config{Scenario: sc, Target: srv.URL, MetricsURL: MetricsOff, MaxWorkers: 128,
		Env:    func(string) (string, bool) { return "tok", true },
		Phases: []scenario.Phase{{Duration: time.Duration(float64(b.N) / rate * float64(time.Second)), Rate: rate, RampTo: rate}}}
	b.ResetTimer()
	start := time.Now()
	rep, err := Run(b.Context(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(rep.Total.Requests)/time.Since(start).Seconds(), "req/s")
	if rep.Total.Errors > 0 {
		b.Fatalf("%d errors: %v", rep.Total.Errors, rep.Errors)
	}
}
