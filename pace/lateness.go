package pace

import (
	"math"
	"time"
)

// Lateness is the guard against a machine too busy to keep time. Such a
// machine delays requests between their admission and the provider by
// about as much as it delays a limiter's timer, and a request held back
// that way can meet the next window's at the provider: the headroom covers
// only 15 ms of that. So a limiter notes how late its timer fires and
// counts over a window longer by Extra: twice the recent peak of that
// lateness (halving every LatenessHalfLife, at most MaxLatenessExtra, in
// whole milliseconds). It sends a little slower while the machine is
// overloaded and exactly as before when it is not: a timer late by a
// fraction of a millisecond adds nothing. The zero value is ready; not
// safe for concurrent use (a limiter notes under its own lock).
type Lateness struct {
	peak time.Duration
	at   time.Time
}

// Bounds of the lateness guard.
const (
	LatenessHalfLife = 5 * time.Second
	MaxLatenessExtra = 100 * time.Millisecond
)

// Note records that a timer fired late by d at now. A longer stall (the
// process stopped, the laptop asleep) counts as MaxLatenessExtra/2: it says
// nothing of the seconds after it, and would otherwise hold the window at
// its longest for half a minute of decay.
func (g *Lateness) Note(now time.Time, d time.Duration) {
	d = min(d, MaxLatenessExtra/2)
	if d > g.decayed(now) {
		g.peak, g.at = d, now
	}
}

// Extra is how much longer than the headroom's the window should be at now.
func (g *Lateness) Extra(now time.Time) time.Duration {
	return min(MaxLatenessExtra, 2*g.decayed(now)).Truncate(time.Millisecond)
}

func (g *Lateness) decayed(now time.Time) time.Duration {
	if g.peak <= 0 {
		return 0
	}
	return time.Duration(float64(g.peak) * math.Exp2(-now.Sub(g.at).Seconds()/LatenessHalfLife.Seconds()))
}
