package procstat

import (
	"os"
	"testing"
	"time"
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

// TestSamplePeak: the peak is read before the first tick, and grows when
// the process does; nothing is read after stop.
func TestSamplePeak(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc on this system")
	}
	peak, stop := SamplePeak(os.Getpid(), "VmRSS", time.Millisecond)
	for peak.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	before := peak.Load()
	grow := make([]byte, 64<<20)
	for i := range grow {
		grow[i] = 1 // touched, so resident
	}
	for deadline := time.Now().Add(10 * time.Second); peak.Load() < before+32<<10; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("peak %d kB after touching 64 MB, from %d kB", peak.Load(), before)
		}
	}
	stop()
	final := peak.Load()
	time.Sleep(5 * time.Millisecond)
	if peak.Load() != final || grow[len(grow)-1] != 1 {
		t.Fatalf("peak moved after stop: %d then %d kB", final, peak.Load())
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

func TestCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	before := CPU(os.Getpid())
	for i := 0; CPU(os.Getpid()) <= before; i++ { // spin until a tick counts
		if i > 1e7 {
			t.Fatal("CPU time of this process never grew")
		}
	}
	if got := CPU(-1); got != 0 {
		t.Errorf("CPU of no process = %v, want 0", got)
	}
}
