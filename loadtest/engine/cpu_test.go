package engine

import (
	"errors"
	"strings"
	"testing"
)

func TestParseCPU(t *testing.T) {
	t.Parallel()
	page := `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total_other 99
process_cpu_seconds_total 12.5
`
	if v, err := parseCPU(strings.NewReader(page)); err != nil || v != 12.5 {
		t.Fatalf("got %v %v", v, err)
	}
	if v, err := parseCPU(strings.NewReader(`process_cpu_seconds_total{pid="1",x="}"} 3e1 1700000000000`)); err != nil || v != 30 {
		t.Fatalf("labels: got %v %v", v, err)
	}
	if _, err := parseCPU(strings.NewReader("go_goroutines 3\n")); !errors.Is(err, errNoCPUMetric) {
		t.Fatalf("err = %v", err)
	}
}
