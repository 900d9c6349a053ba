package engine

import (
	"math"
	"testing"
	"time"

	"github.com/heraldhq/herald/loadtest/scenario"
)

// simulate runs the pacer on a simulated clock, as vegeta's attack loop
// does with an instant target, and returns when each request started.
func simulate(t *testing.T, s Schedule) []time.Duration {
	t.Helper()
	var at []time.Duration
	var now time.Duration
	for hits := uint64(0); ; hits++ {
		wait, stop := s.Pace(now, hits)
		if stop {
			return at
		}
		if wait < 0 {
			t.Fatalf("negative wait %v after %d hits", wait, hits)
		}
		now += wait
		at = append(at, now)
		if len(at) > 10_000_000 {
			t.Fatal("the pacer never stops")
		}
	}
}

func perSecond(at []time.Duration) []int {
	var counts []int
	for _, a := range at {
		s := int(a / time.Second)
		for len(counts) <= s {
			counts = append(counts, 0)
		}
		counts[s]++
	}
	return counts
}

// checkSchedule holds every second to the integral of the rate over it:
// within 1 % or, for seconds of under 100 arrivals, within one arrival
// (a count is a whole number).
func checkSchedule(t *testing.T, s Schedule) {
	t.Helper()
	at := simulate(t, s)
	if uint64(len(at)) != s.Total() {
		t.Fatalf("%d requests, want Total %d", len(at), s.Total())
	}
	if math.Abs(float64(len(at))-s.Hits(s.Duration())) >= 1 {
		t.Fatalf("%d requests, want %.2f", len(at), s.Hits(s.Duration()))
	}
	counts := perSecond(at)
	if len(counts) > int(math.Ceil(s.Duration().Seconds())) {
		t.Fatalf("requests in %d seconds of a %v schedule", len(counts), s.Duration())
	}
	for sec, n := range counts {
		from, to := time.Duration(sec)*time.Second, time.Duration(sec+1)*time.Second
		want := s.Hits(to) - s.Hits(from)
		if tol := math.Max(1, 0.01*want); math.Abs(float64(n)-want) > tol {
			t.Errorf("second %d: %d requests, schedule %.2f (±%.2f)", sec, n, want, tol)
		}
	}
}

func seedPhases(t *testing.T) []scenario.Phase {
	t.Helper()
	sc, err := scenario.Parse(readSeed(t))
	if err != nil {
		t.Fatal(err)
	}
	return sc.Phases
}

func TestScheduleSeedPerSecond(t *testing.T) {
	t.Parallel()
	s := NewSchedule(seedPhases(t))
	checkSchedule(t, s)
	// (1+100)/2·50 + (100+180)/2·150 + 180·100 + (180+1)/2·30
	if got := s.Hits(s.Duration()); math.Abs(got-44240) > 1e-6 {
		t.Fatalf("total %.3f, want 44240", got)
	}
	if s.Duration() != 330*time.Second {
		t.Fatalf("duration %v", s.Duration())
	}
}

func TestScheduleSeedScaled(t *testing.T) {
	t.Parallel()
	s := NewSchedule(scenario.Scaled(seedPhases(t), 0.1))
	checkSchedule(t, s)
	if s.Total() != 4424 {
		t.Fatalf("total %d, want 4424", s.Total())
	}
}

func TestScheduleShapes(t *testing.T) {
	t.Parallel()
	cases := map[string][]scenario.Phase{
		"constant":        {{Duration: 10 * time.Second, Rate: 180, RampTo: 180}},
		"fractional":      {{Duration: 20 * time.Second, Rate: 2.5, RampTo: 2.5}},
		"ramp from zero":  {{Duration: 30 * time.Second, Rate: 0, RampTo: 50}},
		"ramp to zero":    {{Duration: 30 * time.Second, Rate: 50, RampTo: 0}},
		"pause between":   {{Duration: 3 * time.Second, Rate: 10, RampTo: 10}, {Duration: 2 * time.Second}, {Duration: 3 * time.Second, Rate: 7, RampTo: 7}},
		"steep and short": {{Duration: 1500 * time.Millisecond, Rate: 1, RampTo: 1000}},
		"high rate":       {{Duration: 5 * time.Second, Rate: 50000, RampTo: 50000}},
	}
	for name, phases := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkSchedule(t, NewSchedule(phases))
		})
	}
}

func TestScheduleCatchesUp(t *testing.T) {
	t.Parallel()
	s := NewSchedule([]scenario.Phase{{Duration: 10 * time.Second, Rate: 100, RampTo: 100}})
	// 2 s in with only 50 sent: behind, so the next starts at once.
	if wait, stop := s.Pace(2*time.Second, 50); wait != 0 || stop {
		t.Fatalf("wait %v stop %v, want 0 false", wait, stop)
	}
	if wait, _ := s.Pace(0, 0); wait != 0 {
		t.Fatalf("first request waits %v", wait)
	}
	if wait, _ := s.Pace(0, 1); wait != 10*time.Millisecond {
		t.Fatalf("second request waits %v, want 10ms", wait)
	}
	if _, stop := s.Pace(10*time.Second, 1000); !stop {
		t.Fatal("no stop after the last request")
	}
}

func TestScheduleRate(t *testing.T) {
	t.Parallel()
	s := NewSchedule(seedPhases(t))
	for _, c := range []struct {
		at   time.Duration
		want float64
	}{{0, 1}, {25 * time.Second, 50.5}, {50 * time.Second, 100}, {125 * time.Second, 140}, {250 * time.Second, 180}, {315 * time.Second, 90.5}, {331 * time.Second, 0}} {
		if got := s.Rate(c.at); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("Rate(%v) = %v, want %v", c.at, got, c.want)
		}
	}
	if s.Phase(60*time.Second) != 1 || s.PhaseStart(2) != 200*time.Second {
		t.Fatalf("phase at 60s %d, start of 2 %v", s.Phase(60*time.Second), s.PhaseStart(2))
	}
}
