package main

import (
	"os"
	"runtime/debug"
)

// serve's garbage-collector defaults. The report webhook allocates a few
// short-lived objects per request; at Go's default (GOGC=100) the collector
// takes about 6% of serve's CPU at 30,000 reports/s, and collecting a
// quarter as often cuts serve's CPU per report by about 5%. The soft memory
// limit keeps the larger target from growing the heap: near it the
// collector runs as often as it must. Either is left alone when its
// environment variable is set (GOGC=100 restores Go's default, GOMEMLIMIT=off
// drops the limit).
const (
	serveGCPercent   = 400
	serveMemoryLimit = 160 << 20 // bytes; serve's RSS goal is 256 MB, and SQLite's page cache lies outside Go's heap
)

// gcSettings says which of serve's defaults apply under the environment
// lookup: a negative value leaves that setting to Go.
func gcSettings(lookup func(string) (string, bool)) (percent int, limit int64) {
	percent, limit = serveGCPercent, serveMemoryLimit
	if _, ok := lookup("GOGC"); ok {
		percent = -1
	}
	if _, ok := lookup("GOMEMLIMIT"); ok {
		limit = -1
	}
	return percent, limit
}

// tuneGC applies serve's collector defaults to this process.
func tuneGC() {
	percent, limit := gcSettings(os.LookupEnv)
	if percent >= 0 {
		debug.SetGCPercent(percent)
	}
	if limit >= 0 {
		debug.SetMemoryLimit(limit)
	}
}
