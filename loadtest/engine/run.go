// Package engine runs a bound scenario against its target with vegeta on an
// exact open-model schedule, records every result by second and phase,
// samples the CPU of the target and of itself, and searches for the highest
// rate the target sustains within a latency objective.
package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/loadtest/scenario"
)

// Defaults of Config.
const (
	DefaultWorkers    = 10
	DefaultMaxWorkers = 1024
	DefaultTimeout    = 30 * time.Second
)

// MetricsOff as Config.MetricsURL turns CPU sampling of the target off.
const MetricsOff = "off"

// Config is a load test: a scenario, where to aim it and how hard.
type Config struct {
	Scenario      *scenario.Scenario
	Target        string            // overrides the scenario's target
	Phases        []scenario.Phase  // replace the scenario's phases when set
	ScaleDuration float64           // multiplies phase durations; 0 is 1
	IDs           []string          // message ids to draw; none: fresh ids
	Vars          map[string]string // variables every arrival starts with
	Env           func(string) (string, bool)

	Workers        uint64        // goroutines started at once; more spawn as needed
	MaxWorkers     uint64        // requests in flight at most
	MaxConnections int           // connections to the target at most; 0: MaxWorkers
	Timeout        time.Duration // per request; 0: the scenario's or DefaultTimeout
	MetricsURL     string        // the target's /metrics; "": target + /metrics

	Progress io.Writer // live progress; nil for none
	TTY      bool      // Progress is a terminal: redraw one line
	Logger   *slog.Logger
}

// Validate names the field at fault.
func (c Config) Validate() error {
	switch {
	case c.Scenario == nil:
		return herald.Invalid("scenario", "is required")
	case c.ScaleDuration < 0:
		return herald.Invalid("scaleDuration", "must not be negative")
	case c.MaxConnections < 0:
		return herald.Invalid("maxConnections", "must not be negative")
	case c.Timeout < 0:
		return herald.Invalid("timeout", "must not be negative")
	}
	for _, ph := range c.Phases {
		if ph.Duration <= 0 || ph.Rate < 0 || ph.RampTo < 0 {
			return herald.Invalid("phases", "durations must be positive and rates not negative")
		}
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.ScaleDuration == 0 {
		c.ScaleDuration = 1
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.MaxWorkers == 0 {
		c.MaxWorkers = DefaultMaxWorkers
	}
	c.Workers = min(c.Workers, c.MaxWorkers)
	if c.MaxConnections == 0 {
		c.MaxConnections = int(min(c.MaxWorkers, 1<<20))
	}
	if c.Timeout == 0 {
		c.Timeout = c.Scenario.Timeout
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Run runs the scenario's phases (or cfg.Phases) and reports. Cancelling
// ctx stops the arrivals; requests in flight finish and are reported.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	r, err := newRunner(cfg)
	if err != nil {
		return nil, err
	}
	defer r.close()
	phases := r.cfg.Phases
	if len(phases) == 0 {
		phases = r.cfg.Scenario.Phases
	}
	return r.run(ctx, scenario.Scaled(phases, r.cfg.ScaleDuration))
}

// runner runs schedules against one target with one connection pool.
type runner struct {
	cfg     Config
	plan    *scenario.Plan
	client  *http.Client
	metrics *http.Client
	mURL    string
}

func newRunner(cfg Config) (*runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p, err := scenario.NewPlan(cfg.Scenario, scenario.Binding{Target: cfg.Target, IDs: cfg.IDs, Vars: cfg.Vars, Env: cfg.Env})
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, plan: p, client: newClient(cfg), mURL: cfg.MetricsURL,
		metrics: &http.Client{Timeout: 2 * time.Second}}
	switch r.mURL {
	case "":
		r.mURL = p.Base() + "/metrics"
	case MetricsOff:
		r.mURL = ""
	}
	return r, nil
}

// close drops the idle connections.
func (r *runner) close() {
	r.client.CloseIdleConnections()
	r.metrics.CloseIdleConnections()
}

// newClient bounds connections and never follows redirects: a 3xx is an answer.
func newClient(cfg Config) *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   cfg.MaxConnections,
		MaxConnsPerHost:       cfg.MaxConnections,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: tr, Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (r *runner) run(ctx context.Context, phases []scenario.Phase) (*Report, error) {
	sched := NewSchedule(phases)
	if sched.Total() == 0 {
		return nil, errors.New("the phases start no requests: give them an arrival rate")
	}
	start := time.Now()
	rec := newRecorder(start, len(phases), sched.Phase)
	cpu := newCPUSampler(r.mURL, r.metrics, start)
	w := &watcher{out: r.cfg.Progress, tty: r.cfg.TTY, log: r.cfg.Logger, sched: sched, rec: rec, cpu: cpu,
		plan: r.plan, start: start, base: r.plan.Started(), workers: r.cfg.MaxWorkers}
	atk := vegeta.NewAttacker(vegeta.Client(r.client), vegeta.Workers(r.cfg.Workers),
		vegeta.MaxWorkers(r.cfg.MaxWorkers), vegeta.MaxBody(0))
	bg, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { cpu.run(bg) })
	wg.Go(func() { w.run(bg) })
	wg.Go(func() { stopOnCancel(ctx, bg, atk) })
	for res := range atk.Attack(r.plan.Targeter(), sched, 0, "") {
		rec.add(res)
	}
	stop()
	wg.Wait()
	return buildReport(reportInput{target: r.plan.Base(), start: start, end: runEnd(sched, rec, ctx.Err() != nil),
		sched: sched, rec: rec, cpu: cpu, workers: r.cfg.MaxWorkers, peak: w.peak, canceled: ctx.Err() != nil}), nil
}

// runEnd is the span the totals cover: the schedule, stretched when the
// generator started requests late, cut when the run was interrupted.
func runEnd(sched Schedule, rec *recorder, canceled bool) time.Duration {
	if canceled {
		return max(rec.lastStart(), time.Millisecond)
	}
	return max(sched.Duration(), rec.lastStart())
}

// stopOnCancel stops the attack when ctx ends, until done ends.
func stopOnCancel(ctx, done context.Context, atk *vegeta.Attacker) {
	select {
	case <-ctx.Done():
		atk.Stop()
	case <-done.Done():
	}
}
