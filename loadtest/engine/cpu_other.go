//go:build !unix

package engine

import "math"

// selfCPU is unknown on this system.
func selfCPU() float64 { return math.NaN() }
