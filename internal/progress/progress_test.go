package progress

import (
	"strings"
	"testing"
	"time"
)

// clock is a settable clock for Bar.Now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }
func bar(w *strings.Builder, tty bool, c *clock) *Bar {
	b := NewBar(NewPrinter(w, tty, 0))
	b.Now = c.now
	return b
}

func TestBarOnATerminal(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	c := newClock()
	b := bar(&out, true, c)
	b.Unit = "rows"
	b.Draw(0, 1000, "")
	c.add(time.Second)
	b.Draw(100, 1000, "x")
	c.add(time.Second)
	b.Draw(500, 1000, "")
	b.Done()
	lines := strings.Split(out.String(), "\r\033[K")
	if len(lines) != 4 || lines[0] != "" {
		t.Fatalf("output %q: want three redraws in place", out.String())
	}
	if want := "[===                           ] 100/1000 100 rows/s ETA 9s x"; lines[2] != want {
		t.Errorf("second line %q, want %q", lines[2], want)
	}
	// 500 done after 2 s: 250/s, 500 left → 2 s.
	if want := "[===============               ] 500/1000 250 rows/s ETA 2s\n"; lines[3] != want {
		t.Errorf("last line %q, want %q", lines[3], want)
	}
}

func TestBarInALogIsThrottled(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	c := newClock()
	b := bar(&out, false, c)
	b.Every = 2 * time.Second
	for i := range 10 {
		b.Draw(int64(i), 0, "")
		c.add(500 * time.Millisecond)
	}
	b.Done()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	// Draws at 0, 0.5 … 4.5 s: lines at 0, 2 and 4 s, no bar without a total.
	if len(lines) != 3 || lines[0] != "0 0/s" || !strings.HasPrefix(lines[1], "4 2/s") || strings.Contains(out.String(), "\r") {
		t.Fatalf("log output %q", out.String())
	}
}

func TestPrinterCutsToTheWidth(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	p := NewPrinter(&out, true, 10)
	p.Print("안녕하세요 herald progress")
	p.End()
	p.End() // a second End adds nothing
	if got, want := out.String(), "\r\033[K안녕하세요 her\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestETAAndBytes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		done, total int64
		rate        float64
		want        string
	}{{0, 100, 0, "--"}, {50, 100, 10, "5s"}, {100, 100, 0, "0s"}, {0, 7200, 1, "2h0m0s"}} {
		if got := ETA(tc.done, tc.total, tc.rate); got != tc.want {
			t.Errorf("ETA(%d, %d, %g) = %s, want %s", tc.done, tc.total, tc.rate, got, tc.want)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 45_200_000: "45.2 MB", 3_100_000_000: "3.1 GB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %s, want %s", n, got, want)
		}
	}
}
