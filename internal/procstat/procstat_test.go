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

func TestSelfCPU(t *testing.T) {
	before := SelfCPU()
	if before == 0 {
		t.Skip("no CPU time on this system")
	}
	for i := 0; ; i++ { // spin until the clock moves
		if SelfCPU() > before {
			break
		}
		if i > 1e9 {
			t.Fatal("CPU time never grew")
		}
	}
}
