// Package procstat reads what a process has used, memory (from /proc) and
// CPU time, for the tests and benchmarks that bound or measure it.
package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// StatusKB reads one "Field: N kB" line of /proc/PID/status (VmRSS,
// VmHWM…); 0 when it cannot.
func StatusKB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// SamplePeak reads field (as StatusKB) of process pid at once and then
// every interval until stop is called; peak holds the highest value read.
// stop returns once sampling has ended, so peak is final after it.
func SamplePeak(pid int, field string, interval time.Duration) (peak *atomic.Int64, stop func()) {
	peak = new(atomic.Int64)
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			if kb := StatusKB(pid, field); kb > peak.Load() {
				peak.Store(kb)
			}
			select {
			case <-quit:
				return
			case <-tick.C:
			}
		}
	}()
	return peak, func() { close(quit); <-exited }
}
