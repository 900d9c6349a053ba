package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/ingest"
	"github.com/heraldhq/herald/internal/reporttest"
)

// panicStore panics in ApplyReports for every batch holding a report with
// the marked msgKey, as a store bug tripped by one bad report would, and
// keeps the msgKeys of the batches its store committed.
type panicStore struct {
	herald.Store
	marked string

	mu        sync.Mutex
	committed map[string]int
}

func (p *panicStore) ApplyReports(ctx context.Context, rs []herald.Report, now time.Time) (herald.ReportResult, error) {
	for _, r := range rs {
		if r.MsgKey == p.marked {
			panic(fmt.Sprintf("store bug on report %s: %s", r.MsgKey, r.Text))
		}
	}
	res, err := p.Store.ApplyReports(ctx, rs, now)
	if err == nil {
		p.mu.Lock()
		for _, r := range rs {
			p.committed[r.MsgKey]++
		}
		p.mu.Unlock()
	}
	return res, err
}

func (p *panicStore) stored(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.committed[key] > 0
}

// lockedBuffer is a log destination safe to read while committers write.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCommitPanic: a panic while committing one batch fails that batch
// alone, like a failed transaction (503, so that the provider retries), is
// counted and logged without the report, and the committers go on.
func TestCommitPanic(t *testing.T) {
	t.Parallel()
	const marked = "PANIC-SECRET-KEY"
	ps := &panicStore{Store: newSQLite(t), marked: marked, committed: map[string]int{}}
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// One report a batch, two committers: which reports share the marked
	// one's fate does not depend on timing.
	e := reporttest.NewLogged(t, ps, ingest.Config{BatchSize: 1, Committers: 2},
		heraldhttp.ReportConfig{Secret: []byte(reporttest.Secret)}, logger)

	reporttest.WantStatus(t, e.Post(heraldhttp.PathReports, reporttest.Bizgo("GOOD-BEFORE", "", "ALIMTALK", "10000", reporttest.Epoch)), 200)
	bad := e.Post(heraldhttp.PathReports, reporttest.Bizgo(marked, "", "ALIMTALK", kakaoFail, reporttest.Epoch))
	reporttest.WantStatus(t, bad, 503)
	if bad.Header.Get("Retry-After") == "" || strings.Contains(bad.Body, "bug") {
		t.Fatalf("503 %v %s: want the failed-commit answer", bad.Header, bad.Body)
	}

	// Many at once, the marked report among them, and its retries.
	const n = 40
	answers := make([]<-chan reporttest.Response, 0, n+3)
	// A good report not stored within the wait (a loaded machine, one
	// report a transaction) is retried, as the provider does.
	good := func(key string) <-chan reporttest.Response {
		c := make(chan reporttest.Response, 1)
		go func() {
			var r reporttest.Response
			for range 5 {
				if r = <-e.Async(heraldhttp.PathReports, reporttest.Bizgo(key, "", "ALIMTALK", "10000", reporttest.Epoch)); r.Status != 503 ||
					!strings.Contains(r.Body, "in time") {
					break
				}
			}
			c <- r
		}()
		return c
	}
	for i := range n {
		answers = append(answers, good(fmt.Sprintf("GOOD-%03d", i)))
		if i%15 == 0 {
			answers = append(answers, e.Async(heraldhttp.PathReports, reporttest.Bizgo(marked, "", "ALIMTALK", kakaoFail, reporttest.Epoch)))
		}
	}
	goods, bads := 0, 0
	for i, c := range answers {
		got := waitFor(t, c, fmt.Sprintf("answer %d", i))
		switch {
		case got.Status == 200 && strings.Contains(got.Body, `"GOOD-`):
			goods++
		case got.Status == 503:
			bads++
		default:
			t.Errorf("answer %d: %d %s", i, got.Status, got.Body)
		}
	}
	if goods != n || bads != len(answers)-n {
		t.Fatalf("%d answered 200 and %d 503, want %d and %d", goods, bads, n, len(answers)-n)
	}
	// The committers still run.
	reporttest.WantStatus(t, e.Post(heraldhttp.PathReports, reporttest.Bizgo("GOOD-AFTER", "", "ALIMTALK", "10000", reporttest.Epoch)), 200)

	for _, key := range []string{"GOOD-BEFORE", "GOOD-000", fmt.Sprintf("GOOD-%03d", n-1), "GOOD-AFTER"} {
		if !ps.stored(key) {
			t.Errorf("%s answered 200 but not committed", key)
		}
	}
	if ps.stored(marked) {
		t.Error("the marked report was committed")
	}
	panics := reporttest.Metric(t, e.Reg, "herald_report_commit_panics_total", "")
	if panics != float64(1+len(answers)-n) {
		t.Errorf("commit panics = %v, want %d", panics, 1+len(answers)-n)
	}
	if got := reporttest.Metric(t, e.Reg, "herald_reports_refused_total", "unavailable"); got != panics {
		t.Errorf("refused unavailable = %v, want %v", got, panics)
	}

	out := logs.String()
	lines := strings.Count(out, "commit panicked")
	if lines < 1 || float64(lines) > panics {
		t.Errorf("%d panic log lines for %v panics:\n%s", lines, panics, out)
	}
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "ApplyReports") || !strings.Contains(out, "panic=string") {
		t.Errorf("want an error line with the stack and the kind of panic:\n%s", out)
	}
	if strings.Contains(out, marked) || strings.Contains(out, "report "+kakaoFail) || strings.Contains(out, reporttest.Secret) {
		t.Errorf("the log holds the report or the secret:\n%s", out)
	}
}
