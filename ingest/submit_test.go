package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingest"
	"github.com/heraldhq/herald/internal/reporttest"
	"github.com/heraldhq/herald/sqlite"
)

// These tests drive ingest.Submit directly, without HTTP.

func rep(msgKey string) herald.Report {
	return herald.Report{MsgKey: msgKey, ServiceType: "ALIMTALK", ReportTime: reporttest.Epoch, ReportType: "0",
		Code: "10000", Raw: []byte(`{"msgKey":"` + msgKey + `"}`)}
}

// startIngest runs an Ingest over s until the test ends.
func startIngest(t *testing.T, s ingest.ReportStore, cfg ingest.Config) (*ingest.Ingest, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return reporttest.Epoch }
	}
	in, err := ingest.New(cfg, s, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), reporttest.MaxWait)
		defer cancel()
		if err := in.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return in, reg
}

// submitAsync submits in the background.
func submitAsync(in *ingest.Ingest, r herald.Report) <-chan error {
	c := make(chan error, 1)
	go func() { c <- in.Submit(context.Background(), r) }()
	return c
}

// storedCount is the number of stored reports of msgKey.
func storedCount(t *testing.T, s herald.Store, msgKey string) int {
	t.Helper()
	type lister interface {
		ReportsByMsgKey(context.Context, string) ([]herald.Report, error)
	}
	for {
		switch w := s.(type) {
		case *gateStore:
			s = w.Store
			continue
		case *flakyStore:
			s = w.Store
			continue
		}
		break
	}
	l := s.(lister)
	got, err := l.ReportsByMsgKey(context.Background(), msgKey)
	if err != nil {
		t.Fatal(err)
	}
	return len(got)
}

// TestCopiesNotWritten: copies of a report submitted while the original's
// batch is being written, and after it, never reach the store, and each is
// answered once the original is durable.
func TestCopiesNotWritten(t *testing.T) {
	t.Parallel()
	g := newGateStore(newSQLite(t))
	in, reg := startIngest(t, g, ingest.Config{Committers: 4})
	first := submitAsync(in, rep("DUP"))
	waitFor(t, g.entered, "the first batch")
	var copies []<-chan error
	for range 20 {
		copies = append(copies, submitAsync(in, rep("DUP")))
	}
	other := submitAsync(in, rep("OTHER"))
	eventually(t, "the copies queued", func() bool { return reporttest.Metric(t, reg, "herald_reports_received_total", "") == 22 })
	for _, c := range copies {
		select {
		case err := <-c:
			t.Fatalf("a copy was answered (%v) before the original was durable", err)
		default:
		}
	}
	g.open()
	for _, c := range append(copies, first, other) {
		if err := waitFor(t, c, "an answer"); err != nil {
			t.Fatal(err)
		}
	}
	if n := g.returned.Load(); n != 2 {
		t.Fatalf("the store was given %d reports, want 2 (DUP once, OTHER)", n)
	}
	// Stored lately: answered from the recent keys.
	if err := in.Submit(context.Background(), rep("DUP")); err != nil {
		t.Fatal(err)
	}
	if n := g.returned.Load(); n != 2 {
		t.Fatalf("a recent copy reached the store (%d reports)", n)
	}
	batch := reporttest.Metric(t, reg, "herald_reports_deduplicated_total", "batch")
	recent := reporttest.Metric(t, reg, "herald_reports_deduplicated_total", "recent")
	if batch+recent != 21 {
		t.Fatalf("deduplicated %v in a batch and %v recent, want 21 in all", batch, recent)
	}
	if storedCount(t, g, "DUP") != 1 {
		t.Fatal("DUP not stored once")
	}
}

// TestCopyOfAFailedBatchIsWritten: a copy of a report whose batch failed is
// not taken for stored.
func TestCopyOfAFailedBatchIsWritten(t *testing.T) {
	t.Parallel()
	f := &flakyStore{Store: newSQLite(t)}
	f.down.Store(true)
	in, _ := startIngest(t, f, ingest.Config{})
	if err := in.Submit(context.Background(), rep("F1")); !errors.Is(err, herald.ErrUnavailable) {
		t.Fatalf("Submit with the store down: %v, want ErrUnavailable", err)
	}
	f.down.Store(false)
	if err := in.Submit(context.Background(), rep("F1")); err != nil {
		t.Fatal(err)
	}
	if storedCount(t, f, "F1") != 1 {
		t.Fatal("the retried report is not stored")
	}
}

// TestSubmitValidates: Submit refuses what no store could keep, naming the field.
func TestSubmitValidates(t *testing.T) {
	t.Parallel()
	in, _ := startIngest(t, newSQLite(t), ingest.Config{})
	r := rep("bad\x00key")
	var inv *herald.InvalidError
	if err := in.Submit(context.Background(), r); !errors.As(err, &inv) || inv.Field != "msgKey" {
		t.Fatalf("Submit: %v, want an invalid msgKey", err)
	}
}

// flakyStore fails ApplyReports while down, and counts what it stored.
type flakyStore struct {
	herald.Store
	down   atomic.Bool
	calls  atomic.Int64
	stored atomic.Int64
}

func (f *flakyStore) ApplyReports(ctx context.Context, rs []herald.Report, now time.Time) (herald.ReportResult, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return herald.ReportResult{}, errors.New("database unreachable")
	}
	res, err := f.Store.ApplyReports(ctx, rs, now)
	if err == nil {
		f.stored.Add(int64(len(rs)))
	}
	return res, err
}

// TestSpoolWhileStoreDown: with a spool, reports are acknowledged while the
// store fails, the spool is visible, and they land once it is back.
func TestSpoolWhileStoreDown(t *testing.T) {
	t.Parallel()
	for name, open := range engines {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := &flakyStore{Store: open(t)}
			f.down.Store(true)
			dir := t.TempDir()
			in, reg := startIngest(t, f, ingest.Config{SpoolDir: dir, SpoolAfter: 100 * time.Millisecond})
			var wg sync.WaitGroup
			errs := make(chan error, 200)
			for i := range 200 {
				wg.Go(func() { errs <- in.Submit(context.Background(), rep(fmt.Sprintf("SP%03d", i))) })
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("Submit with a spool and the store down: %v", err)
				}
			}
			if !in.Spooling() || in.SpoolBytes() == 0 {
				t.Fatalf("spooling %v, %d bytes: want the spool in use", in.Spooling(), in.SpoolBytes())
			}
			if got := reporttest.Metric(t, reg, "herald_reports_spooled_total", ""); got != 200 {
				t.Fatalf("spooled %v, want 200", got)
			}
			// While spooling, new batches join the spool behind the others.
			if err := in.Submit(context.Background(), rep("SP-LATE")); err != nil {
				t.Fatal(err)
			}
			f.down.Store(false)
			eventually(t, "the spool replayed", func() bool { return !in.Spooling() && in.SpoolBytes() == 0 })
			for i := range 200 {
				if n := storedCount(t, f, fmt.Sprintf("SP%03d", i)); n != 1 {
					t.Fatalf("SP%03d stored %d times", i, n)
				}
			}
			if storedCount(t, f, "SP-LATE") != 1 {
				t.Fatal("SP-LATE not stored")
			}
			if got := reporttest.Metric(t, reg, "herald_reports_replayed_total", ""); got != 201 {
				t.Fatalf("replayed %v, want 201", got)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "spool-*.wal")); len(left) != 0 {
				t.Fatalf("segments left after the replay: %v", left)
			}
		})
	}
}

// TestSpoolSlowCommit: a commit slower than SpoolAfter has its batch
// spooled and acknowledged; when both the commit and the replay land,
// the report is stored once.
func TestSpoolSlowCommit(t *testing.T) {
	t.Parallel()
	g := newGateStore(newSQLite(t))
	in, reg := startIngest(t, g, ingest.Config{SpoolDir: t.TempDir(), SpoolAfter: 50 * time.Millisecond})
	done := submitAsync(in, rep("SLOW"))
	waitFor(t, g.entered, "the commit")
	if err := waitFor(t, done, "the spooled answer"); err != nil {
		t.Fatal(err)
	}
	if got := reporttest.Metric(t, reg, "herald_report_slow_commits_total", ""); got != 1 {
		t.Fatalf("slow commits %v, want 1", got)
	}
	g.open()
	eventually(t, "the spool replayed", func() bool { return !in.Spooling() })
	if n := storedCount(t, g, "SLOW"); n != 1 {
		t.Fatalf("stored %d times", n)
	}
}

// TestSpoolFull: past its bound the spool refuses, and Submit with it.
func TestSpoolFull(t *testing.T) {
	t.Parallel()
	f := &flakyStore{Store: newSQLite(t)}
	f.down.Store(true)
	in, reg := startIngest(t, f, ingest.Config{SpoolDir: t.TempDir(), SpoolMaxBytes: 1 << 20, BatchSize: 1})
	big := func(i int) herald.Report {
		r := rep(fmt.Sprintf("BIG%03d", i))
		r.Raw = []byte(strings.Repeat("x", 60<<10))
		return r
	}
	var refused error
	for i := 0; i < 40 && refused == nil; i++ {
		refused = in.Submit(context.Background(), big(i))
	}
	if !errors.Is(refused, herald.ErrUnavailable) {
		t.Fatalf("Submit past the spool's bound: %v, want ErrUnavailable", refused)
	}
	if in.SpoolBytes() > 1<<20 {
		t.Fatalf("spool grew to %d bytes", in.SpoolBytes())
	}
	if reporttest.Metric(t, reg, "herald_report_spool_errors_total", "") < 1 {
		t.Fatal("spool refusal not counted")
	}
}

// TestSpoolSurvivesRestart: what was spooled when the process stopped is
// replayed by the next Ingest on the same directory; a torn record at the
// end (a crash in the middle of a write, never acknowledged) is dropped.
func TestSpoolSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(t.TempDir(), "herald.db")
	s, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f := &flakyStore{Store: s}
	f.down.Store(true)
	in, err := ingest.New(ingest.Config{SpoolDir: dir, Now: func() time.Time { return reporttest.Epoch }}, f, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := in.Submit(context.Background(), rep(fmt.Sprintf("RS%02d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := in.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "spool-*.wal"))
	if len(segs) == 0 {
		t.Fatal("nothing left in the spool after a stop with the store down")
	}
	// A torn record at the end of the last segment.
	last, err := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	last.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, 'x'})
	last.Close()

	f.down.Store(false)
	in2, _ := startIngest(t, f, ingest.Config{SpoolDir: dir})
	eventually(t, "the spool replayed", func() bool { return !in2.Spooling() })
	for i := range 50 {
		if n := storedCount(t, f, fmt.Sprintf("RS%02d", i)); n != 1 {
			t.Fatalf("RS%02d stored %d times", i, n)
		}
	}
}

// TestSpoolLocked: two Ingests never share a spool.
func TestSpoolLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	startIngest(t, newSQLite(t), ingest.Config{SpoolDir: dir})
	if _, err := ingest.New(ingest.Config{SpoolDir: dir}, newSQLite(t), nil, nil); err == nil {
		t.Fatal("a second Ingest opened a spool in use")
	}
}
