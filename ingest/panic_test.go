package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/ingest"
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
	e := &env{t: t, store: ps, reg: prometheus.NewRegistry(), clock: newClock(testNow)}
	// One report a batch, two committers: which reports share the marked
	// one's fate does not depend on timing.
	in, err := ingest.New(ingest.Config{Now: e.clock.now, BatchSize: 1, Committers: 2}, ps, logger, e.reg)
	if err != nil {
		t.Fatal(err)
	}
	api, err := heraldhttp.NewServer(heraldhttp.ServerConfig{Store: ps, AdminTokens: []string{adminTok}, Registry: e.reg,
		Now: e.clock.now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.HandleReports(heraldhttp.ReportConfig{Secret: []byte(secret)}, in); err != nil {
		t.Fatal(err)
	}
	if err := in.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.in, e.srv = in, httptest.NewServer(api.Handler())
	t.Cleanup(func() {
		e.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), maxWait)
		defer cancel()
		if err := in.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})

	wantStatus(t, e.post(heraldhttp.PathReports, bizgo("GOOD-BEFORE", "", "ALIMTALK", "10000", testNow)), 200)
	bad := e.post(heraldhttp.PathReports, bizgo(marked, "", "ALIMTALK", kakaoFail, testNow))
	wantStatus(t, bad, 503)
	if bad.header.Get("Retry-After") == "" || strings.Contains(bad.body, "bug") {
		t.Fatalf("503 %v %s: want the failed-commit answer", bad.header, bad.body)
	}

	// Many at once, the marked report among them, and its retries.
	const n = 40
	answers := make([]<-chan response, 0, n+3)
	// A good report not stored within the wait (a loaded machine, one
	// report a transaction) is retried, as the provider does.
	good := func(key string) <-chan response {
		c := make(chan response, 1)
		go func() {
			var r response
			for range 5 {
				if r = <-e.async(heraldhttp.PathReports, bizgo(key, "", "ALIMTALK", "10000", testNow)); r.status != 503 ||
					!strings.Contains(r.body, "in time") {
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
			answers = append(answers, e.async(heraldhttp.PathReports, bizgo(marked, "", "ALIMTALK", kakaoFail, testNow)))
		}
	}
	goods, bads := 0, 0
	for i, c := range answers {
		got := waitFor(t, c, fmt.Sprintf("answer %d", i))
		switch {
		case got.status == 200 && strings.Contains(got.body, `"GOOD-`):
			goods++
		case got.status == 503:
			bads++
		default:
			t.Errorf("answer %d: %d %s", i, got.status, got.body)
		}
	}
	if goods != n || bads != len(answers)-n {
		t.Fatalf("%d answered 200 and %d 503, want %d and %d", goods, bads, n, len(answers)-n)
	}
	// The committers still run.
	wantStatus(t, e.post(heraldhttp.PathReports, bizgo("GOOD-AFTER", "", "ALIMTALK", "10000", testNow)), 200)

	for _, key := range []string{"GOOD-BEFORE", "GOOD-000", fmt.Sprintf("GOOD-%03d", n-1), "GOOD-AFTER"} {
		if !ps.stored(key) {
			t.Errorf("%s answered 200 but not committed", key)
		}
	}
	if ps.stored(marked) {
		t.Error("the marked report was committed")
	}
	panics := metric(t, e, "herald_report_commit_panics_total", "")
	if panics != float64(1+len(answers)-n) {
		t.Errorf("commit panics = %v, want %d", panics, 1+len(answers)-n)
	}
	if got := metric(t, e, "herald_reports_refused_total", "unavailable"); got != panics {
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
	if strings.Contains(out, marked) || strings.Contains(out, "report "+kakaoFail) || strings.Contains(out, secret) {
		t.Errorf("the log holds the report or the secret:\n%s", out)
	}
}
