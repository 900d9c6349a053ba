// Package procstat reads what a process has used, memory (from /proc) and
// CPU time, for the tests and benchmarks that bound or measure it.
package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
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
