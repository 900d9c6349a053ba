package engine

import (
	"context"
	"fmt"
	"math"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/loadtest/scenario"
)

// FindMaxConfig steers the search for the highest sustainable rate.
type FindMaxConfig struct {
	StartRate    float64       // requests per second of the first step
	Factor       float64       // each step's rate is the last one's times this
	MaxRate      float64       // never step above this
	StepDuration time.Duration // each step holds its rate this long
	Cooldown     time.Duration // pause between steps, so the target drains
	SLOP99       time.Duration // a step passes when its p99 is at most this
	MaxErrorRate float64       // and its share of errors at most this
	Bisections   int           // steps spent between the last pass and the first failure
	Retries      int           // times a failing step is run again before it counts as failed
}

// Validate names the field at fault.
func (c FindMaxConfig) Validate() error {
	switch {
	case c.StartRate <= 0:
		return herald.Invalid("startRate", "must be positive")
	case c.Factor <= 1:
		return herald.Invalid("factor", "must be above 1")
	case c.MaxRate < c.StartRate:
		return herald.Invalid("maxRate", "must be at least the start rate")
	case c.StepDuration < time.Second:
		return herald.Invalid("stepDuration", "must be at least 1s")
	case c.SLOP99 <= 0:
		return herald.Invalid("sloP99", "must be positive")
	case c.MaxErrorRate < 0 || c.MaxErrorRate > 1:
		return herald.Invalid("maxErrorRate", "must be between 0 and 1")
	case c.Bisections < 0:
		return herald.Invalid("bisections", "must not be negative")
	case c.Cooldown < 0:
		return herald.Invalid("cooldown", "must not be negative")
	case c.Retries < 0:
		return herald.Invalid("retries", "must not be negative")
	}
	return nil
}

// Step is one constant-rate step of the search.
type Step struct {
	Kind   string  `json:"kind"` // "step", "bisect" or "retry"
	Rate   float64 `json:"rate"`
	Pass   bool    `json:"pass"`
	Reason string  `json:"reason,omitempty"` // why it failed
	Stats  Stats   `json:"stats"`
	// Warnings are the step's report warnings: generator behind, CPU gaps.
	Warnings []string `json:"warnings,omitempty"`
}

// Why a search stopped.
const (
	LimitTarget    = "target"    // the target missed the objective
	LimitGenerator = "generator" // this machine could not generate more
	LimitMaxRate   = "max-rate"  // every rate up to --max-rate passed
)

// FindMaxResult is the search's steps and answer.
type FindMaxResult struct {
	Target       string        `json:"target"`
	SLOP99       time.Duration `json:"-"`
	SLOP99Ms     float64       `json:"sloP99Ms"`
	MaxErrorRate float64       `json:"maxErrorRate"`
	Steps        []Step        `json:"steps"`
	Best         *Step         `json:"best,omitempty"` // highest passing rate; nil if none passed
	Limit        string        `json:"limit"`
	Interrupted  bool          `json:"interrupted,omitempty"`
}

// FindMax steps the rate up by Factor until a step misses the objective
// (p99, error rate, or the rate itself not achieved) Retries+1 times in a
// row, then bisects between the last pass and the first failure. The scenario's flow is used; its
// phases are not.
func FindMax(ctx context.Context, cfg Config, fm FindMaxConfig) (*FindMaxResult, error) {
	if err := fm.Validate(); err != nil {
		return nil, err
	}
	r, err := newRunner(cfg)
	if err != nil {
		return nil, err
	}
	defer r.close()
	s := &search{r: r, fm: fm, res: &FindMaxResult{Target: r.plan.Base(),
		SLOP99: fm.SLOP99, SLOP99Ms: float64(fm.SLOP99) / 1e6, MaxErrorRate: fm.MaxErrorRate}}
	lo, hi, err := s.climb(ctx)
	if err == nil && hi > 0 {
		err = s.bisect(ctx, lo, hi)
	}
	s.res.Interrupted = ctx.Err() != nil
	return s.res, err
}

// search is one FindMax in progress.
type search struct {
	r    *runner
	fm   FindMaxConfig
	res  *FindMaxResult
	last *Report // of the latest step
}

// climb steps up until a failure; it returns the last passing rate and the
// failing one (0 when none failed).
func (s *search) climb(ctx context.Context) (lo, hi float64, err error) {
	for rate := s.fm.StartRate; ; rate = math.Min(math.Round(rate*s.fm.Factor), s.fm.MaxRate) {
		st, err := s.step(ctx, "step", rate)
		if err != nil {
			return lo, 0, err
		}
		if !st.Pass {
			s.res.Limit = s.limit(s.last)
			return lo, rate, nil
		}
		lo = rate
		if rate >= s.fm.MaxRate {
			s.res.Limit = LimitMaxRate
			return lo, 0, nil
		}
	}
}

// bisect narrows [lo, hi) to within 2 % or until the bisections run out.
func (s *search) bisect(ctx context.Context, lo, hi float64) error {
	for range s.fm.Bisections {
		mid := math.Round((lo + hi) / 2)
		if hi-lo <= math.Max(1, 0.02*lo) || mid <= lo || mid >= hi {
			return nil
		}
		st, err := s.step(ctx, "bisect", mid)
		if err != nil {
			return err
		}
		if st.Pass {
			lo = mid
		} else {
			hi = mid
		}
	}
	return nil
}

// step runs one rate, again up to Retries times while it fails (a shared
// machine has bad seconds), and records every attempt.
func (s *search) step(ctx context.Context, kind string, rate float64) (*Step, error) {
	st, err := s.attempt(ctx, kind, rate)
	for try := 0; err == nil && !st.Pass && try < s.fm.Retries; try++ {
		st, err = s.attempt(ctx, "retry", rate)
	}
	return st, err
}

// attempt runs one rate once and records it.
func (s *search) attempt(ctx context.Context, kind string, rate float64) (*Step, error) {
	if len(s.res.Steps) > 0 && s.fm.Cooldown > 0 {
		if !clock.Sleep(ctx, s.fm.Cooldown) {
			return nil, ctx.Err()
		}
	}
	phase := scenario.Phase{Name: fmt.Sprintf("%s %g/s", kind, rate), Duration: s.fm.StepDuration, Rate: rate, RampTo: rate}
	rep, err := s.r.run(ctx, []scenario.Phase{phase})
	if err != nil {
		return nil, err
	}
	if rep.Interrupted {
		return nil, ctx.Err()
	}
	s.last = rep
	st := Step{Kind: kind, Rate: rate, Stats: rep.Total, Warnings: rep.Warnings}
	st.Pass, st.Reason = s.judge(rep)
	s.res.Steps = append(s.res.Steps, st)
	if st.Pass && (s.res.Best == nil || rate > s.res.Best.Rate) {
		best := st
		s.res.Best = &best
	}
	return &st, nil
}

// judge tells whether a step met the objective, and if not why.
func (s *search) judge(rep *Report) (bool, string) {
	t := rep.Total
	switch {
	case t.ErrorRate > s.fm.MaxErrorRate:
		return false, fmt.Sprintf("errors %.2f%% > %.2f%%", 100*t.ErrorRate, 100*s.fm.MaxErrorRate)
	case t.Latency.P99 > s.fm.SLOP99:
		return false, fmt.Sprintf("p99 %s > %s", fmtLatency(t.Latency.P99), fmtLatency(s.fm.SLOP99))
	case t.Rate < behindRatio*t.TargetRate:
		return false, fmt.Sprintf("achieved %.0f/s < %.0f%% of %.0f/s: %s", t.Rate, 100*behindRatio, t.TargetRate,
			shortCause(rep.PeakInFlight, rep.MaxWorkers))
	}
	return true, ""
}

// limit tells a target failure from the generator running out.
func (s *search) limit(rep *Report) string {
	t := rep.Total
	generatorOnly := t.ErrorRate <= s.fm.MaxErrorRate && t.Latency.P99 <= s.fm.SLOP99 &&
		float64(rep.PeakInFlight) < 0.9*float64(rep.MaxWorkers)
	if generatorOnly {
		return LimitGenerator
	}
	return LimitTarget
}

func shortCause(peak, workers uint64) string {
	if workers > 0 && float64(peak) >= 0.9*float64(workers) {
		return "every worker waiting on the target"
	}
	return "the generator is short of CPU"
}
