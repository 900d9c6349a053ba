package engine

import (
	"math"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/heraldhq/herald/loadtest/scenario"
)

// Schedule is the arrival rate over time: phases one after another, each
// constant or a linear ramp. As a vegeta.Pacer it is exact and open:
// request n (from 0) starts when the integral of the rate reaches n,
// whatever the latency, and a generator that fell behind catches up at once.
// So a second [s, s+1) starts ⌈H(s+1)⌉ − ⌈H(s)⌉ requests, where H is the
// integral: within one request of the schedule.
//
// vegeta's own LinearPacer is not used: it derives the wait from the
// instantaneous rate, so a steep ramp from a low rate oversleeps and then
// bursts (from 1/s rising by 2/s each second it sends 0 in second 1 and 10
// in second 2 where 4 and 6 are due), and a start rate of 0 means unlimited.
type Schedule struct {
	phases []scenario.Phase
	segs   []segment
}

// segment is a phase in seconds, with the arrivals due before it.
type segment struct {
	start, dur, from, to, before float64
}

var _ vegeta.Pacer = Schedule{}

// NewSchedule chains the phases.
func NewSchedule(phases []scenario.Phase) Schedule {
	s := Schedule{phases: phases}
	var start, before float64
	for _, ph := range phases {
		sg := segment{start: start, dur: ph.Duration.Seconds(), from: ph.Rate, to: ph.RampTo, before: before}
		s.segs = append(s.segs, sg)
		start += sg.dur
		before += sg.hits(sg.dur)
	}
	return s
}

// slope is the change of rate per second.
func (sg segment) slope() float64 {
	if sg.dur == 0 {
		return 0
	}
	return (sg.to - sg.from) / sg.dur
}

// hits is the integral of the rate over the first t seconds of the segment.
func (sg segment) hits(t float64) float64 { return sg.from*t + sg.slope()*t*t/2 }

// at solves hits(t) = m for t: the stable root of slope/2·t² + from·t − m.
func (sg segment) at(m float64) float64 {
	if m <= 0 {
		return 0
	}
	d := sg.from*sg.from + 2*sg.slope()*m
	den := sg.from + math.Sqrt(math.Max(d, 0))
	if den <= 0 {
		return sg.dur
	}
	return math.Min(2*m/den, sg.dur)
}

// Phases returns the phases of the schedule.
func (s Schedule) Phases() []scenario.Phase { return s.phases }

// PhaseStart is when phase i starts.
func (s Schedule) PhaseStart(i int) time.Duration { return seconds2d(s.segs[i].start) }

// Duration is the sum of the phases.
func (s Schedule) Duration() time.Duration {
	if len(s.segs) == 0 {
		return 0
	}
	last := s.segs[len(s.segs)-1]
	return seconds2d(last.start + last.dur)
}

// Total is the number of requests the schedule starts: arrival n starts
// at At(n) for every n below the integral of the rate.
func (s Schedule) Total() uint64 {
	h := s.hits(math.Inf(1))
	return uint64(math.Ceil(h - 1e-9*math.Max(1, h)))
}

// Hits is the number of arrivals due in the first t: the integral of the rate.
func (s Schedule) Hits(t time.Duration) float64 { return s.hits(t.Seconds()) }

func (s Schedule) hits(t float64) float64 {
	if len(s.segs) == 0 || t <= 0 {
		return 0
	}
	sg := s.segs[s.segment(t)]
	return sg.before + sg.hits(math.Min(t-sg.start, sg.dur))
}

// segment returns the index of the segment holding t (the last past the end).
func (s Schedule) segment(t float64) int {
	for i, sg := range s.segs {
		if t < sg.start+sg.dur {
			return i
		}
	}
	return len(s.segs) - 1
}

// Phase returns the index of the phase running at t.
func (s Schedule) Phase(t time.Duration) int { return s.segment(t.Seconds()) }

// Rate implements vegeta.Pacer: arrivals per second at elapsed.
func (s Schedule) Rate(elapsed time.Duration) float64 {
	t := elapsed.Seconds()
	if len(s.segs) == 0 || t < 0 || t >= s.Duration().Seconds() {
		return 0
	}
	sg := s.segs[s.segment(t)]
	return sg.from + sg.slope()*(t-sg.start)
}

// At returns when the arrival numbered n (from 0) is due: when the integral
// of the rate reaches n. false past the last one.
func (s Schedule) At(n float64) (time.Duration, bool) {
	eps := 1e-9 * math.Max(1, n)
	for _, sg := range s.segs {
		if m := n - sg.before; m >= -eps && m < sg.hits(sg.dur)-eps {
			return seconds2d(sg.start + sg.at(m)), true
		}
	}
	return 0, false
}

// Pace implements vegeta.Pacer: after hits requests, the next is number hits.
func (s Schedule) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	due, ok := s.At(float64(hits))
	if !ok {
		return 0, true
	}
	if due <= elapsed {
		return 0, false
	}
	return due - elapsed, false
}

func seconds2d(s float64) time.Duration { return time.Duration(math.Round(s * float64(time.Second))) }
