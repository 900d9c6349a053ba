package ingest_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/procstat"
	"github.com/heraldhq/herald/internal/reporttest"
)

// TestRSSConnectionPerReport stands in for a provider that posts every
// report on a connection of its own, as fast as it can, and retries what
// is refused (429/503) after a pause: serve's peak RSS must stay within
// 256 MB, and every report must land. HERALD_RSS_REPORTS and
// HERALD_RSS_CONCURRENCY scale it (bench/webhook-rss.sh); CI runs it small.
func TestRSSConnectionPerReport(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the herald binary")
	}
	t.Parallel()
	reports := envInt(t, "HERALD_RSS_REPORTS", 3000)
	concurrency := envInt(t, "HERALD_RSS_CONCURRENCY", 300)
	path := filepath.Join(t.TempDir(), "herald.db")
	p := serveHerald(t, "sqlite:"+path)
	pid := p.cmd.Process.Pid
	peak, stopSampling := procstat.SamplePeak(pid, "VmRSS", 20*time.Millisecond)
	// No keep-alive: a connection per report.
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var retried, failed atomic.Int64
	keys := make(chan string)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for key := range keys {
				for attempt := 0; ; attempt++ {
					status, err := postReport(context.Background(), c, "http://"+p.addr,
						reporttest.Bizgo(key, "", "ALIMTALK", "10000", time.Now()), reporttest.Bearer(reporttest.TokenA)...)
					if err == nil && status == 200 {
						break
					}
					if attempt == 50 {
						failed.Add(1)
						break
					}
					retried.Add(1)
					time.Sleep(100 * time.Millisecond) // Retry-After is 1 s; a provider retries sooner or later
				}
			}
		})
	}
	for i := range reports {
		keys <- fmt.Sprintf("RSS-%07d", i)
	}
	close(keys)
	wg.Wait()
	stopSampling()
	p.stop(t)
	stored := storedKeys(t, path)
	lost := 0
	for i := range reports {
		if !stored[fmt.Sprintf("RSS-%07d", i)] {
			lost++
		}
	}
	t.Logf("%d reports on a connection each, %d at once: peak RSS %d MB, %d retries, %d given up, %d not stored",
		reports, concurrency, peak.Load()/1024, retried.Load(), failed.Load(), lost)
	if failed.Load() > 0 || lost > 0 {
		t.Fatalf("%d reports given up after 50 tries, %d not stored", failed.Load(), lost)
	}
	if peak.Load() > 256<<10 {
		t.Fatalf("peak RSS %d MB, want at most 256", peak.Load()/1024)
	}
}
