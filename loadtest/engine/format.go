package engine

import "time"

// FormatLatency prints a latency in milliseconds, "-" for none: the way the
// progress line, the verdicts and the report tables show it.
func FormatLatency(d time.Duration) string { return fmtLatency(d) }

// FormatPercent prints a CPU share, "-" when unknown.
func FormatPercent(p *float64) string { return fmtPercent(p) }
