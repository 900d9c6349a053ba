// Package progress draws progress lines on a terminal or a log: one line
// redrawn in place on a terminal, whole lines at a slower pace otherwise.
// Printer is the renderer every progress display of herald shares (the
// CLI's bars, the load test's live line); Bar adds a bar, a rate and an ETA.
package progress

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Printer writes status lines. On a terminal each line replaces the
// previous one; elsewhere each line is a line of its own.
type Printer struct {
	w     io.Writer
	tty   bool
	width int
	drawn bool
}

// NewPrinter returns a printer on w. tty says w is a terminal; width is its
// width in columns, 0 when unknown (lines are then not cut).
func NewPrinter(w io.Writer, tty bool, width int) *Printer {
	return &Printer{w: w, tty: tty, width: width}
}

// TTY reports whether the printer redraws in place.
func (p *Printer) TTY() bool { return p.tty }

// Print shows line: in place of the last one on a terminal (cut to the
// width, so that it never wraps and breaks the redraw), else as a line.
func (p *Printer) Print(line string) {
	if !p.tty {
		fmt.Fprintln(p.w, line)
		return
	}
	if p.width > 1 && utf8.RuneCountInString(line) >= p.width {
		line = string([]rune(line)[:p.width-1])
	}
	fmt.Fprint(p.w, "\r\033[K"+line)
	p.drawn = true
}

// End finishes the line on a terminal, so that what follows starts on a
// line of its own.
func (p *Printer) End() {
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// Bar is a progress bar with a rate over the last seconds and an ETA.
type Bar struct {
	p *Printer
	// Every is how often a line is printed when not on a terminal; on a
	// terminal every Draw redraws. Zero: every Draw prints.
	Every time.Duration
	// Amount formats a count (bytes, say); plain integers when nil.
	Amount func(n int64) string
	// Unit names what is counted in the rate ("/s" follows it).
	Unit string
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	samples []sample
	last    time.Time
}

type sample struct {
	at   time.Time
	done int64
}

// rateWindow is how far back the rate looks: long enough to be steady,
// short enough to follow a change of pace.
const rateWindow = 5 * time.Second

// barWidth is the number of cells of the bar itself.
const barWidth = 30

// NewBar returns a bar drawn by p.
func NewBar(p *Printer) *Bar { return &Bar{p: p} }

// Draw shows done of total (total ≤ 0: unknown, no bar and no ETA) with
// extra after it.
func (b *Bar) Draw(done, total int64, extra string) {
	now := b.now()
	b.samples = append(b.samples, sample{now, done})
	for len(b.samples) > 1 && now.Sub(b.samples[0].at) > rateWindow {
		b.samples = b.samples[1:]
	}
	if !b.p.tty && b.Every > 0 && !b.last.IsZero() && now.Sub(b.last) < b.Every {
		return
	}
	b.last = now
	b.p.Print(b.Line(done, total, extra))
}

// Rate is the pace over the last seconds, per second.
func (b *Bar) Rate() float64 {
	if len(b.samples) < 2 {
		return 0
	}
	first, last := b.samples[0], b.samples[len(b.samples)-1]
	if d := last.at.Sub(first.at); d > 0 {
		return float64(last.done-first.done) / d.Seconds()
	}
	return 0
}

// Line is what Draw prints for done of total with extra.
func (b *Bar) Line(done, total int64, extra string) string {
	rate := b.Rate()
	var s strings.Builder
	if total > 0 {
		filled := int(min(barWidth, max(0, barWidth*done/total)))
		fmt.Fprintf(&s, "[%s%s] %s/%s", strings.Repeat("=", filled), strings.Repeat(" ", barWidth-filled), b.amount(done), b.amount(total))
	} else {
		s.WriteString(b.amount(done))
	}
	unit := b.Unit
	if unit != "" {
		unit = " " + unit
	}
	fmt.Fprintf(&s, " %s%s/s", b.amount(int64(rate)), unit)
	if total > 0 {
		s.WriteString(" ETA " + ETA(done, total, rate))
	}
	if extra != "" {
		s.WriteString(" " + extra)
	}
	return s.String()
}

// Done ends the bar's line.
func (b *Bar) Done() { b.p.End() }

func (b *Bar) amount(n int64) string {
	if b.Amount != nil {
		return b.Amount(n)
	}
	return fmt.Sprint(n)
}

func (b *Bar) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// ETA is the time left to reach total at rate, "--" when it cannot be told.
func ETA(done, total int64, rate float64) string {
	if done >= total {
		return "0s"
	}
	if rate <= 0 {
		return "--"
	}
	return (time.Duration(float64(total-done) / rate * float64(time.Second))).Round(time.Second).String()
}

// Bytes formats a byte count in decimal units: 512 B, 45.2 MB.
func Bytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
