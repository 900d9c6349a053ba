//go:build unix

package procstat

import (
	"syscall"
	"time"
)

// SelfCPU is the CPU time, user and system, this process has used; 0
// when the system does not tell.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
