//go:build !unix

package procstat

import "time"

// SelfCPU is unknown on this system: 0.
func SelfCPU() time.Duration { return 0 }
