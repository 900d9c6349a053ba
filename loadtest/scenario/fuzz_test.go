package scenario

import (
	"os"
	"testing"

	"github.com/heraldhq/herald/loadtest/internal/seedtest"
)

// FuzzParseScenario: Parse never panics, and whatever it accepts can be
// planned and rendered without panicking either (engine's FuzzSchedule
// does the same for the phases).
func FuzzParseScenario(f *testing.F) {
	if seed, err := os.ReadFile(seedtest.Path()); err == nil {
		f.Add(seed)
	}
	f.Add([]byte(defaultScenario))
	f.Add([]byte("config:\n  phases: [{pause: 1}, {duration: 1, arrivalCount: 3}]\nscenarios: [{flow: [{get: {url: '/{{ $randomNumber(1,2) }}'}}]}]\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("config: {target: x, phases: [{duration: -1s}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := Parse(data)
		if err != nil {
			return
		}
		p, err := NewPlan(sc, Binding{Target: "http://127.0.0.1:1", Env: func(string) (string, bool) { return "v", true }})
		if err != nil {
			return
		}
		target(t, p)
	})
}
