package procstat

import (
	"os"
	"testing"
)

func TestStatusKB(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc on this system")
	}
	rss := StatusKB(os.Getpid(), "VmRSS")
	if hwm := StatusKB(os.Getpid(), "VmHWM"); rss <= 0 || hwm < rss {
		t.Fatalf("VmRSS %d kB, VmHWM %d kB", rss, hwm)
	}
	if got := StatusKB(os.Getpid(), "NoSuchField"); got != 0 {
		t.Fatalf("unknown field: %d", got)
	}
}
