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

// CPU is the CPU time, user and system, process pid has used, from
// /proc/PID/stat (in clock ticks, taken as 100 a second: USER_HZ on every
// Linux herald runs on); 0 when it cannot tell.
func CPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces and parentheses:
	// count the fields after the last ")" (utime and stime are the 14th
	// and 15th of all).
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// CPUSince is the CPU the processes of now (pid → CPU, as CPU reads it)
// used since then; a process that exited in between is not counted.
func CPUSince(then, now map[int]time.Duration) time.Duration {
	var cpu time.Duration
	for pid, t := range now {
		cpu += t - then[pid]
	}
	return cpu
}
