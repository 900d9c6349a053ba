package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/heraldhq/herald/loadtest/scenario"
)

// reportTarget is a stand-in for herald's webhook: it checks the token,
// counts reports and serves a CPU counter that grows 0.25 s per scrape.
type reportTarget struct {
	srv     *httptest.Server
	reports atomic.Int64
	scrapes atomic.Int64
	limit   *rate.Limiter // nil: unlimited; else 503 above it

	mu  sync.Mutex
	ids map[string]int
}

func newReportTarget(t *testing.T, limit *rate.Limiter) *reportTarget {
	rt := &reportTarget{limit: limit, ids: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /reception-result", rt.report)
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "process_cpu_seconds_total %g\n", 0.25*float64(rt.scrapes.Add(1)))
	})
	rt.srv = httptest.NewServer(mux)
	t.Cleanup(rt.srv.Close)
	return rt
}

func (rt *reportTarget) report(w http.ResponseWriter, r *http.Request) {
	var body struct{ MessageID string }
	if r.Header.Get("Authorization") != "Bearer tok" || json.NewDecoder(r.Body).Decode(&body) != nil {
		http.Error(w, "no", http.StatusUnauthorized)
		return
	}
	if rt.limit != nil && !rt.limit.Allow() {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	rt.mu.Lock()
	rt.ids[body.MessageID]++
	rt.mu.Unlock()
	rt.reports.Add(1)
	w.Write([]byte(`{"code":"0000"}`))
}

func seedConfig(t *testing.T, target string) Config {
	sc, err := scenario.Parse(readSeed(t))
	if err != nil {
		t.Fatal(err)
	}
	return Config{Scenario: sc, Target: target, Env: func(k string) (string, bool) { return "tok", k == "REPORT_TOKEN" }}
}

func TestRunSeedFlowAgainstATarget(t *testing.T) {
	t.Parallel()
	rt := newReportTarget(t, nil)
	cfg := seedConfig(t, rt.srv.URL)
	cfg.Phases = []scenario.Phase{{Name: "up", Duration: time.Second, Rate: 50, RampTo: 150}, {Name: "hold", Duration: time.Second, Rate: 100, RampTo: 100}}
	var progress bytes.Buffer
	cfg.Progress, cfg.TTY = &progress, true
	rep, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Requests != 200 || rep.Total.Errors != 0 || rt.reports.Load() != 200 || len(rt.ids) != 200 {
		t.Fatalf("requests %d errors %d received %d distinct %d", rep.Total.Requests, rep.Total.Errors, rt.reports.Load(), len(rt.ids))
	}
	// A phase counts the requests sent in it: on a loaded machine one due
	// at the end of "up" may leave in "hold", so the schedule is exact per
	// phase and the requests only in total (a wall-clock split is not a
	// test's to assert).
	if len(rep.Phases) != 2 || rep.Phases[0].Scheduled != 100 || rep.Phases[1].Scheduled != 100 ||
		rep.Phases[0].Requests+rep.Phases[1].Requests != 200 || rep.Total.Codes["200"] != 200 {
		t.Fatalf("phases %+v codes %v", rep.Phases, rep.Total.Codes)
	}
	if len(rep.Seconds) != 2 || rep.Seconds[1].Phase != "hold" || rep.Total.Latency.P99 <= 0 {
		t.Fatalf("seconds %+v", rep.Seconds)
	}
	if rep.Total.CPU == nil || *rep.Total.CPU <= 0 || rep.Total.GeneratorCPU == nil {
		t.Fatalf("cpu %v generator %v (warnings %v)", rep.Total.CPU, rep.Total.GeneratorCPU, rep.Warnings)
	}
	if !strings.Contains(progress.String(), "\r\033[K") || !strings.Contains(progress.String(), "achieved") {
		t.Fatalf("progress %q", progress.String())
	}
}

func TestRunCountsErrorsAndCancels(t *testing.T) {
	t.Parallel()
	rt := newReportTarget(t, nil)
	cfg := seedConfig(t, rt.srv.URL)
	cfg.Env = func(string) (string, bool) { return "wrong", true }
	cfg.Phases = []scenario.Phase{{Duration: time.Minute, Rate: 100, RampTo: 100}}
	cfg.MetricsURL = MetricsOff
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Interrupted || rep.Total.Requests == 0 || rep.Total.Requests > 100 || rep.Total.Errors != rep.Total.Requests {
		t.Fatalf("interrupted %v requests %d errors %d", rep.Interrupted, rep.Total.Requests, rep.Total.Errors)
	}
	if rep.Errors["401 Unauthorized"] != rep.Total.Errors || rep.Total.CPU != nil {
		t.Fatalf("errors %v cpu %v", rep.Errors, rep.Total.CPU)
	}
}

func TestFindMaxFindsTheLimit(t *testing.T) {
	t.Parallel()
	rt := newReportTarget(t, rate.NewLimiter(300, 30))
	cfg := seedConfig(t, rt.srv.URL)
	cfg.MetricsURL = MetricsOff
	res, err := FindMax(t.Context(), cfg, FindMaxConfig{StartRate: 100, Factor: 2, MaxRate: 10000,
		StepDuration: time.Second, SLOP99: time.Second, MaxErrorRate: 0.01, Bisections: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Best == nil || res.Best.Rate < 200 || res.Best.Rate >= 400 || res.Limit != LimitTarget {
		t.Fatalf("best %+v limit %s steps %+v", res.Best, res.Limit, res.Steps)
	}
	if len(res.Steps) != 5 || res.Steps[2].Pass || !strings.Contains(res.Steps[2].Reason, "errors") {
		t.Fatalf("steps %+v", res.Steps)
	}
}

func TestFindMaxStopsAtMaxRate(t *testing.T) {
	t.Parallel()
	rt := newReportTarget(t, nil)
	cfg := seedConfig(t, rt.srv.URL)
	cfg.MetricsURL = MetricsOff
	res, err := FindMax(t.Context(), cfg, FindMaxConfig{StartRate: 50, Factor: 3, MaxRate: 100,
		StepDuration: time.Second, SLOP99: time.Second, MaxErrorRate: 0, Bisections: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Best == nil || res.Best.Rate != 100 || res.Limit != LimitMaxRate || len(res.Steps) != 2 {
		t.Fatalf("best %+v limit %s steps %d", res.Best, res.Limit, len(res.Steps))
	}
	if !strings.Contains(res.Answer(), "max sustainable rate: 100/s") {
		t.Fatalf("answer %q", res.Answer())
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	sc := scenario.Default(false)
	for _, c := range []Config{
		{},
		{Scenario: sc, ScaleDuration: -1},
		{Scenario: sc, MaxConnections: -1},
		{Scenario: sc, Phases: []scenario.Phase{{Duration: 0, Rate: 1}}},
	} {
		if c.Validate() == nil {
			t.Errorf("%+v passed", c)
		}
	}
	if err := (FindMaxConfig{StartRate: 1, Factor: 1, MaxRate: 2, StepDuration: time.Second, SLOP99: 1}).Validate(); err == nil {
		t.Error("factor 1 passed")
	}
}

func TestFindMaxRetriesAFailingStep(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1) <= 50 { // a bad first half second
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	cfg := seedConfig(t, srv.URL)
	cfg.MetricsURL = MetricsOff
	res, err := FindMax(t.Context(), cfg, FindMaxConfig{StartRate: 100, Factor: 2, MaxRate: 100,
		StepDuration: time.Second, SLOP99: time.Second, MaxErrorRate: 0.01, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Steps) != 2 || res.Steps[0].Pass || res.Steps[1].Kind != "retry" || !res.Steps[1].Pass || res.Best == nil {
		t.Fatalf("steps %+v", res.Steps)
	}
}
