package engine

import (
	"os"
	"testing"

	"github.com/heraldhq/herald/loadtest/internal/seedtest"
	"github.com/heraldhq/herald/loadtest/scenario"
)

// readSeed is the seed scenario's text.
var readSeed = seedtest.Read

// FuzzSchedule: whatever phases Parse accepts make a schedule whose
// arrivals can be counted and timed without panicking.
func FuzzSchedule(f *testing.F) {
	if seed, err := os.ReadFile(seedtest.Path()); err == nil {
		f.Add(seed)
	}
	f.Add([]byte("config:\n  phases: [{pause: 1}, {duration: 1, arrivalCount: 3}]\nscenarios: [{flow: [{get: {url: '/'}}]}]\n"))
	f.Add([]byte("config:\n  phases: [{duration: 3, arrivalRate: 0, rampTo: 7}]\nscenarios: [{flow: [{get: {url: '/'}}]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := scenario.Parse(data)
		if err != nil {
			return
		}
		s := NewSchedule(sc.Phases)
		if n := s.Total(); n > 0 && n < 1e6 {
			s.At(float64(n - 1))
		}
	})
}
