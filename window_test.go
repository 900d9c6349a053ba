package herald

import (
	"testing"
	"time"
)

func seoul(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, Seoul)
	if err != nil {
		panic(err)
	}
	return t
}

func TestSendWindow(t *testing.T) {
	w, err := ParseSendWindow("08:00-20:50")
	if err != nil || w.String() != "08:00-20:50" {
		t.Fatalf("parse: %v %q", err, w.String())
	}
	cases := []struct {
		at        string
		open      bool
		next, end string
	}{
		{"2026-03-02 07:59", false, "2026-03-02 08:00", "2026-03-02 20:50"},
		{"2026-03-02 08:00", true, "2026-03-02 08:00", "2026-03-02 20:50"},
		{"2026-03-02 20:49", true, "2026-03-02 20:49", "2026-03-02 20:50"},
		{"2026-03-02 20:50", false, "2026-03-03 08:00", "2026-03-03 20:50"},
		{"2026-03-02 23:59", false, "2026-03-03 08:00", "2026-03-03 20:50"},
	}
	for _, c := range cases {
		at := seoul(c.at)
		if got := w.Open(at); got != c.open {
			t.Errorf("Open(%s) = %v", c.at, got)
		}
		next := w.NextOpen(at)
		if !next.Equal(seoul(c.next)) {
			t.Errorf("NextOpen(%s) = %s, want %s", c.at, next.In(Seoul), c.next)
		}
		if end := w.NextClose(next); !end.Equal(seoul(c.end)) {
			t.Errorf("NextClose(%s) = %s, want %s", c.next, end.In(Seoul), c.end)
		}
	}
	// 10 minutes before the close, 30 minutes of sending: 10 today, 20 tomorrow.
	if got := w.Finish(seoul("2026-03-02 20:40"), 30*time.Minute); !got.Equal(seoul("2026-03-03 08:20")) {
		t.Errorf("Finish = %s", got.In(Seoul))
	}
	// The window is read in Seoul whatever zone the time is in.
	if !w.Open(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)) { // 09:00 KST
		t.Error("00:00 UTC is 09:00 in Seoul: open")
	}
}

func TestSendWindowOverMidnightAndAlways(t *testing.T) {
	w, err := ParseSendWindow("21:00-06:00")
	if err != nil {
		t.Fatal(err)
	}
	if !w.Open(seoul("2026-03-02 23:00")) || !w.Open(seoul("2026-03-03 05:59")) || w.Open(seoul("2026-03-03 06:00")) {
		t.Error("over-midnight window opens wrongly")
	}
	if end := w.NextClose(seoul("2026-03-02 22:00")); !end.Equal(seoul("2026-03-03 06:00")) {
		t.Errorf("close = %s", end.In(Seoul))
	}
	if got := w.NextOpen(seoul("2026-03-03 12:00")); !got.Equal(seoul("2026-03-03 21:00")) {
		t.Errorf("next = %s", got.In(Seoul))
	}
	late, _ := ParseSendWindow("18:00-24:00")
	if !late.Open(seoul("2026-03-02 23:59")) || late.Open(seoul("2026-03-03 00:00")) || late.String() != "18:00-24:00" {
		t.Errorf("18:00-24:00 wrong: %q", late.String())
	}
	for _, s := range []string{"", "00:00-24:00"} {
		if w, err := ParseSendWindow(s); err != nil || !w.Always() || !w.NextClose(time.Now()).IsZero() {
			t.Errorf("%q: not always open (%v)", s, err)
		}
	}
	for _, bad := range []string{"8-20", "08:00", "08:00-08:00", "25:00-26:00", "08:60-09:00", "24:00-06:00", "a:bc-de:fg"} {
		if _, err := ParseSendWindow(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseSendWindow(f *testing.F) {
	for _, s := range []string{"08:00-20:50", "21:00-06:00", "00:00-24:00", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseSendWindow(s)
		if err != nil {
			return
		}
		again, err := ParseSendWindow(w.String())
		if err != nil || again != w {
			t.Fatalf("%q → %q does not read back (%v)", s, w.String(), err)
		}
		at := seoul("2026-03-02 12:34")
		if next := w.NextOpen(at); !w.Open(next) || next.Before(at) {
			t.Fatalf("%q: NextOpen(%s) = %s is not open", s, at, next)
		}
	})
}
