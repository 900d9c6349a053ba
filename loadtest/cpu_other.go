//go:build !unix

package loadtest

import "math"

// selfCPU is unknown on this system.
func selfCPU() float64 { return math.NaN() }
