package herald

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Seoul must resolve on hosts without a zoneinfo database
)

// Seoul is the time zone send windows are read in.
var Seoul = mustLoad("Asia/Seoul")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(fmt.Sprintf("time zone %s: %v", name, err))
	}
	return loc
}

// SendWindow is the hours of the day, in Asia/Seoul, when a campaign may
// send: "08:00-20:50". A window whose end is before its start runs over
// midnight ("21:00-06:00"); "00:00-24:00" is always open, and so is the zero
// value. Outside it a campaign claims nothing.
type SendWindow struct {
	from, to time.Duration // since local midnight; from == to means always
}

// ParseSendWindow reads "HH:MM-HH:MM"; empty is the zero (always open) window.
func ParseSendWindow(s string) (SendWindow, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return SendWindow{}, nil
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return SendWindow{}, Invalid("sendWindow", `want "HH:MM-HH:MM" in Asia/Seoul, such as "08:00-20:50", not %q`, s)
	}
	from, err1 := clock(a)
	to, err2 := clock(b)
	if err1 != nil || err2 != nil || from == 24*time.Hour {
		return SendWindow{}, Invalid("sendWindow", `want "HH:MM-HH:MM" in Asia/Seoul, such as "08:00-20:50", not %q`, s)
	}
	if from == to {
		return SendWindow{}, Invalid("sendWindow", "an empty window never opens: %q", s)
	}
	if from == 0 && to == 24*time.Hour {
		return SendWindow{}, nil
	}
	return SendWindow{from: from, to: to % (24 * time.Hour)}, nil
}

func clock(s string) (time.Duration, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, fmt.Errorf("not HH:MM")
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || hh == 24 && mm != 0 {
		return 0, fmt.Errorf("not HH:MM")
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, nil
}

// Always reports whether the window never closes.
func (w SendWindow) Always() bool { return w.from == w.to }

// String is the window as parsed ("" for always).
func (w SendWindow) String() string {
	if w.Always() {
		return ""
	}
	f := func(d time.Duration) string { return fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60) }
	to := f(w.to)
	if w.to == 0 {
		to = "24:00"
	}
	return f(w.from) + "-" + to
}

// midnight is the start of t's day in Seoul, and how far into it t is.
func midnight(t time.Time) (time.Time, time.Duration) {
	l := t.In(Seoul)
	m := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, Seoul)
	return m, t.Sub(m)
}

// Open reports whether t is inside the window.
func (w SendWindow) Open(t time.Time) bool {
	if w.Always() {
		return true
	}
	_, d := midnight(t)
	if w.from < w.to || w.to == 0 {
		return d >= w.from && (w.to == 0 || d < w.to)
	}
	return d >= w.from || d < w.to // over midnight
}

// NextOpen is t when the window is open at t, else the next opening.
func (w SendWindow) NextOpen(t time.Time) time.Time {
	if w.Open(t) {
		return t
	}
	m, _ := midnight(t)
	at := m.Add(w.from)
	if !at.After(t) {
		at = m.AddDate(0, 0, 1).Add(w.from)
	}
	return at
}

// NextClose is when the opening that t is in ends; the zero time for a
// window that never closes. t must be inside the window.
func (w SendWindow) NextClose(t time.Time) time.Time {
	if w.Always() {
		return time.Time{}
	}
	m, d := midnight(t)
	if w.to == 0 || w.from > w.to && d >= w.from {
		return m.AddDate(0, 0, 1).Add(w.to)
	}
	return m.Add(w.to)
}

// Finish is when work that takes busy of sending time, begun at start,
// ends when it may send only inside the window.
func (w SendWindow) Finish(start time.Time, busy time.Duration) time.Time {
	if w.Always() {
		return start.Add(busy)
	}
	t := start
	for range 100_000 {
		t = w.NextOpen(t)
		end := w.NextClose(t)
		if left := end.Sub(t); busy <= left {
			return t.Add(busy)
		} else {
			busy -= left
		}
		t = end
	}
	return t.Add(busy)
}
