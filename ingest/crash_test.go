package ingest_test

import (
	"github.com/heraldhq/herald/internal/reporttest"

	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestCrashKeepsAcknowledged kills `herald serve` with SIGKILL while
// reports stream in, restarts it on the same SQLite file, and checks that
// every report answered 200 before the kill is in the database.
func TestCrashKeepsAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the herald binary")
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "herald.db")
	p := serveHerald(t, "sqlite:"+path)

	const workers, killAfter = 16, 1000
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := client(workers)
	var mu sync.Mutex
	var acked []string
	enough := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				key := fmt.Sprintf("CRASH-%02d-%06d", w, i)
				status, err := postReport(ctx, c, "http://"+p.addr, reporttest.Bizgo(key, "", "ALIMTALK", "10000", time.Now()), reporttest.Bearer(reporttest.TokenA)...)
				if err != nil {
					return // the process is gone
				}
				if status != 200 {
					continue
				}
				mu.Lock()
				acked = append(acked, key)
				if len(acked) >= killAfter {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		})
	}
	select {
	case <-enough:
	case <-time.After(2 * time.Minute):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("only %d reports acknowledged in 2 minutes", len(acked))
	}
	if err := p.cmd.Process.Kill(); err != nil { // SIGKILL, mid-stream
		t.Fatal(err)
	}
	<-p.exited
	cancel()
	wg.Wait()

	// Restarting recovers the file; the webhook works again.
	p = serveHerald(t, "sqlite:"+path)
	after := reporttest.Bizgo("AFTER", "", "ALIMTALK", "10000", time.Now())
	if status, err := postReport(context.Background(), c, "http://"+p.addr, after, reporttest.Bearer(reporttest.TokenA)...); err != nil || status != 200 {
		t.Fatalf("after restart: %d %v", status, err)
	}
	p.stop(t)

	stored := storedKeys(t, path)
	if lost := missing(acked, stored); len(lost) > 0 {
		t.Fatalf("%d of %d acknowledged reports are not in the database, e.g. %v", len(lost), len(acked), lost[:min(5, len(lost))])
	}
	if !stored["AFTER"] {
		t.Fatal("the report after the restart is not stored")
	}
	t.Logf("%d acknowledged before SIGKILL, all stored (%d stored in all)", len(acked), len(stored))
}
