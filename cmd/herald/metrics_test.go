package main

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/sqlite"
)

// operatorMetrics are the series an operator watches (issue 14: sends by
// outcome, send latency, pacer wait, in flight, claims, retries, in doubt
// and UNKNOWN, pauses by reason, reports by code, ingest batch size and
// commit latency, queue depths), as /metrics shows them.
var operatorMetrics = []string{
	`herald_dispatch_outcomes_total{outcome="accepted"}`,
	`herald_dispatch_send_duration_seconds_bucket`,
	`herald_dispatch_pacer_wait_seconds_bucket`,
	`herald_dispatch_inflight_requests`,
	`herald_dispatch_claimed_total`,
	`herald_dispatch_retries_total`,
	`herald_dispatch_in_doubt_total`,
	`herald_dispatch_in_doubt_resends_total`,
	`herald_dispatch_unknown_total`,
	`herald_dispatch_no_report_total`,
	`herald_dispatch_pauses_total{reason="account"}`,
	`herald_dispatch_pauses_total{reason="breaker"}`,
	`herald_reports_by_code_total{channel="AT",code="10000"}`,
	`herald_report_batch_size_bucket`,
	`herald_report_commit_duration_seconds_bucket`,
	`herald_report_queue_depth`,
	`herald_dispatch_queued_requests`,
}

// demoMetrics runs a small demo and returns its /metrics page, read
// through the admin API's own /metrics route on the demo's registry.
func demoMetrics(t *testing.T) string {
	t.Helper()
	cfg := demoConfig{Members: 200, Listen: "127.0.0.1:0", LogLevel: "error", Timeout: time.Minute,
		Send: sendConfig{TPS: 1000, Workers: 16, BatchSize: 1, LeaseTTL: time.Minute}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logger, _ := newLogger(cfg.LogLevel)
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "demo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	reg := heraldhttp.NewRegistry()
	d := &demo{cfg: cfg, log: logger, store: store, reg: reg}
	if v, err := d.run(t.Context(), io.Discard); err != nil || !v.OK {
		t.Fatalf("demo: %+v, %v", v, err)
	}
	api, err := heraldhttp.NewServer(heraldhttp.ServerConfig{Store: store, AdminTokens: []string{"metrics-test-token"}, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	api.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics answered %d", rec.Code)
	}
	return rec.Body.String()
}

// TestMetricsAfterDemo checks that /metrics shows every operator metric
// after a demo run, and that every metric the Grafana dashboard queries is
// among them.
func TestMetricsAfterDemo(t *testing.T) {
	t.Parallel()
	page := demoMetrics(t)
	for _, m := range operatorMetrics {
		if !strings.Contains(page, "\n"+m) {
			t.Errorf("/metrics after a demo run has no %s", m)
		}
	}
	// The demo sent something: the counters moved.
	for _, re := range []string{`herald_dispatch_claimed_total [1-9]`, `herald_dispatch_send_duration_seconds_count [1-9]`,
		`herald_reports_by_code_total\{channel="AT",code="10000"\} [1-9]`, `herald_report_batch_size_count [1-9]`} {
		if !regexp.MustCompile(`\n` + re).MatchString(page) {
			t.Errorf("/metrics after a demo run: no line matching %s", re)
		}
	}
	for _, name := range grafanaMetrics(t) {
		if !regexp.MustCompile(`\n` + regexp.QuoteMeta(name) + `[{ ]`).MatchString(page) {
			t.Errorf("deploy/grafana/herald.json queries %s, which /metrics does not show", name)
		}
	}
}

// grafanaMetrics lists the metric names in the dashboard's queries and
// variables.
func grafanaMetrics(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/grafana/herald.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Type    string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct{ Definition string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("herald.json: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("a %s panel without a query", p.Type)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		exprs = append(exprs, v.Definition)
	}
	seen := map[string]bool{}
	var names []string
	for _, name := range regexp.MustCompile(`herald_[a-z_]+`).FindAllString(strings.Join(exprs, " "), -1) {
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	if len(names) < len(operatorMetrics)-4 {
		t.Fatalf("the dashboard queries only %v", names)
	}
	return names
}
