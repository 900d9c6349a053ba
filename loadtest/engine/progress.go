package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/heraldhq/herald/internal/progress"
	"github.com/heraldhq/herald/loadtest/scenario"
)

// Progress cadence: a terminal line is redrawn every second; a log gets a
// line every few seconds.
const (
	ttyEvery  = 1
	pipeEvery = 5
)

// watcher follows a run once a second: it prints progress, keeps the peak
// of requests in flight, and warns once when the generator falls behind.
type watcher struct {
	out     io.Writer // nil: no progress line
	tty     bool
	log     *slog.Logger
	sched   Schedule
	rec     *recorder
	cpu     *cpuSampler
	plan    *scenario.Plan
	start   time.Time
	base    uint64 // plan.started before this run
	workers uint64

	ticks       int
	prev        time.Duration
	prevStarted uint64
	behindRun   int
	warned      bool
	peak        uint64
	line        *progress.Printer
}

func (w *watcher) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if w.line != nil {
				w.line.End()
			}
			return
		case <-t.C:
			w.tick()
		}
	}
}

func (w *watcher) tick() {
	w.ticks++
	now := time.Since(w.start)
	started := w.plan.Started() - w.base
	inflight := started - min(uint64(w.rec.completed()), started)
	w.peak = max(w.peak, inflight)
	rate := float64(started-w.prevStarted) / (now - w.prev).Seconds()
	due := (w.sched.Hits(now) - w.sched.Hits(w.prev)) / (now - w.prev).Seconds()
	w.checkBehind(due, rate, inflight)
	w.prev, w.prevStarted = now, started
	every := pipeEvery
	if w.tty {
		every = ttyEvery
	}
	if w.out != nil && w.ticks%every == 0 {
		w.print(now, rate)
	}
}

// checkBehind warns after two seconds in a row under the schedule.
func (w *watcher) checkBehind(due, rate float64, inflight uint64) {
	if due < behindMinimum || rate >= behindRatio*due {
		w.behindRun = 0
		return
	}
	if w.behindRun++; w.behindRun < 2 || w.warned {
		return
	}
	w.warned = true
	w.log.Warn("the load generator is behind its schedule", "component", "loadtest",
		"due_per_s", math.Round(due), "started_per_s", math.Round(rate), "in_flight", inflight,
		"cause", behindCause(w.peak, w.workers))
}

func (w *watcher) print(now time.Duration, rate float64) {
	sec := int(now / time.Second)
	last := w.rec.span(sec-1, sec)
	all := w.rec.span(0, math.MaxInt)
	i := w.sched.Phase(now)
	cpu, _ := w.cpu.between(now-2*time.Second, now)
	line := fmt.Sprintf("%s (%d/%d)  %3.0fs/%.0fs  target %.1f/s  achieved %.1f/s  p50 %s  p99 %s  errors %d  cpu %s",
		w.sched.Phases()[i].Name, i+1, len(w.sched.Phases()), now.Seconds(), w.sched.Duration().Seconds(),
		w.sched.Rate(now), rate, fmtLatency(last.hist.quantile(0.5)), fmtLatency(last.hist.quantile(0.99)),
		all.errors, fmtPercent(finite(cpu)))
	if w.line == nil {
		w.line = progress.NewPrinter(w.out, w.tty, 0)
	}
	w.line.Print(line)
}

// fmtLatency prints a latency in milliseconds, "-" for none.
func fmtLatency(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	ms := float64(d) / 1e6
	switch {
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.2fs", ms/1000)
}

// fmtPercent prints a CPU share, "-" when unknown.
func fmtPercent(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", *p)
}
