package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
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
)

// refuseStore fails every batch holding the marked msgKey with a data
// error, as a constraint the report breaks would, and counts those calls.
type refuseStore struct {
	herald.Store
	marked  string
	refused atomic.Int64
}

func (r *refuseStore) ApplyReports(ctx context.Context, rs []herald.Report, now time.Time) (herald.ReportResult, error) {
	for _, x := range rs {
		if x.MsgKey == r.marked {
			r.refused.Add(1)
			return herald.ReportResult{}, fmt.Errorf("apply reports: CHECK constraint failed: %w", herald.ErrConflict)
		}
	}
	return r.Store.ApplyReports(ctx, rs, now)
}

// startLoggedIngest is startIngest with a log to read.
func startLoggedIngest(t *testing.T, s ingest.ReportStore, cfg ingest.Config, logs *lockedBuffer) (*ingest.Ingest, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Now = func() time.Time { return reporttest.Epoch }
	in, err := ingest.New(cfg, s, slog.New(slog.NewTextHandler(logs, nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopIngest(t, in) })
	return in, reg
}

func stopIngest(t *testing.T, in *ingest.Ingest) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), reporttest.MaxWait)
	defer cancel()
	if err := in.Stop(ctx); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// spoolEach submits the reports of keys one after another: with
// BatchSize 1, one spool record each, in that order, while spooling.
func spoolEach(t *testing.T, in *ingest.Ingest, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := in.Submit(context.Background(), rep(k)); err != nil {
			t.Fatalf("submit %s: %v", k, err)
		}
	}
}

// spoolGroup submits the reports of keys at once; with BatchSize
// len(keys) they make one batch, so one spool record while spooling.
func spoolGroup(t *testing.T, in *ingest.Ingest, keys ...string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(keys))
	for i, k := range keys {
		wg.Go(func() { errs[i] = in.Submit(context.Background(), rep(k)) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("submit %v: %v", keys, err)
	}
}

// rowsOf is the number of stored reports of each key.
func rowsOf(t *testing.T, s herald.Store, keys ...string) map[string]int {
	t.Helper()
	l := s.(interface {
		ReportsByMsgKey(context.Context, string) ([]herald.Report, error)
	})
	out := map[string]int{}
	for _, k := range keys {
		got, err := l.ReportsByMsgKey(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = len(got)
	}
	return out
}

func wantStoredOnce(t *testing.T, s herald.Store, keys ...string) {
	t.Helper()
	for k, n := range rowsOf(t, s, keys...) {
		if n != 1 {
			t.Errorf("%s stored %d times, want once", k, n)
		}
	}
}

// wantNotStored stops the test if any of keys was stored.
func wantNotStored(t *testing.T, s herald.Store, keys ...string) {
	t.Helper()
	stored := false
	for k, n := range rowsOf(t, s, keys...) {
		if n != 0 {
			t.Errorf("%s stored %d times, want never", k, n)
			stored = true
		}
	}
	if stored {
		t.FailNow()
	}
}

func quarantineFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := ingest.QuarantineFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

var goodKeys = []string{"Q-A1", "Q-A2", "Q-A3", "Q-B1", "Q-B2", "Q-C1", "Q-C2", "Q-C3"}

// spoolThreeRecords spools, while f is down, three records: A, then B
// with poison between two good reports, then C.
func spoolThreeRecords(t *testing.T, in *ingest.Ingest, poison string) {
	t.Helper()
	spoolGroup(t, in, "Q-A1", "Q-A2", "Q-A3")
	spoolGroup(t, in, "Q-B1", poison, "Q-B2")
	spoolGroup(t, in, "Q-C1", "Q-C2", "Q-C3")
}

// downSQLite is a SQLite store and, in front of it, a flakyStore that
// refuses every write until its down is cleared.
func downSQLite(t *testing.T) (herald.Store, *flakyStore) {
	db := newSQLite(t)
	f := &flakyStore{Store: db}
	f.down.Store(true)
	return db, f
}

// TestSpoolPoisonRecordQuarantined: a spooled record holding a report
// that makes the store panic no longer holds up the spool. While the
// database refuses every write (though it answers its ping) nothing is
// quarantined; once it takes writes, the spool drains, every good report
// is stored once, the poison one lands in quarantine, counted and logged
// without its contents, and ReplayQuarantine stores it once the bug is gone.
func TestSpoolPoisonRecordQuarantined(t *testing.T) {
	t.Parallel()
	const poison = "POISON-SECRET-KEY"
	db, f := downSQLite(t)
	ps := &panicStore{Store: f, marked: poison, committed: map[string]int{}}
	dir := t.TempDir()
	var logs lockedBuffer
	in, reg := startLoggedIngest(t, ps, ingest.Config{SpoolDir: dir, BatchSize: 3, FlushInterval: time.Second}, &logs)
	spoolThreeRecords(t, in, poison)

	// Passes past poisonAfter, record A taken apart: its reports all fail.
	eventually(t, "replay passes while the store refuses", func() bool { return f.calls.Load() >= 8 })
	if q := quarantineFiles(t, dir); len(q) != 0 || reporttest.Metric(t, reg, "herald_report_spool_quarantined_total", "") != 0 {
		t.Fatalf("quarantined %v while the database refused every write", q)
	}

	f.down.Store(false)
	eventually(t, "the spool drained", func() bool { return !in.Spooling() })
	wantStoredOnce(t, db, goodKeys...)
	wantNotStored(t, db, poison)
	q := quarantineFiles(t, dir)
	if len(q) != 1 {
		t.Fatalf("quarantine files %v, want one", q)
	}
	if got := reporttest.Metric(t, reg, "herald_report_spool_quarantined_total", ""); got != 1 {
		t.Errorf("quarantined_total %v, want 1", got)
	}
	if got := reporttest.Metric(t, reg, "herald_report_spool_quarantine_reports", ""); got != 1 {
		t.Errorf("quarantine_reports %v, want 1", got)
	}
	st := in.Status().Spool
	if st == nil || st.QuarantinedBatches != 1 || st.QuarantinedReports != 1 || st.Spooling || st.Bytes != 0 || st.Replayed < 8 {
		t.Errorf("status %+v, want 1 batch and 1 report quarantined, nothing spooled, 8 replayed", st)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "spool-*.wal")); len(left) != 0 {
		t.Errorf("segments left: %v", left)
	}
	out := logs.String()
	if strings.Count(out, "spooled reports quarantined") != 1 || !strings.Contains(out, "reports=1") {
		t.Errorf("want one quarantine line with the count:\n%s", out)
	}
	if strings.Contains(out, poison) {
		t.Errorf("the log holds the report:\n%s", out)
	}

	// The operator's replay: refused while serve holds the spool, failing
	// while the bug is there, then storing it once.
	if _, _, err := ingest.ReplayQuarantine(context.Background(), dir, ps, reporttest.Epoch); err == nil {
		t.Fatal("ReplayQuarantine ran beside the Ingest holding the spool")
	}
	stopIngest(t, in)
	if _, _, err := ingest.ReplayQuarantine(context.Background(), dir, ps, reporttest.Epoch); err == nil || len(quarantineFiles(t, dir)) != 1 {
		t.Fatalf("ReplayQuarantine with the bug still there: %v; the file must stay", err)
	}
	ps.marked = ""
	files, reports, err := ingest.ReplayQuarantine(context.Background(), dir, ps, reporttest.Epoch)
	if err != nil || files != 1 || reports != 1 {
		t.Fatalf("ReplayQuarantine: %d files, %d reports, %v; want 1, 1", files, reports, err)
	}
	wantStoredOnce(t, db, poison)
	if q := quarantineFiles(t, dir); len(q) != 0 {
		t.Fatalf("quarantine files left after their replay: %v", q)
	}
}

// TestSpoolRefusedRecordQuarantined: a record the database refuses every
// time with an error (no panic) while it takes the others is taken apart
// after poisonAfter passes; its other reports are stored once.
func TestSpoolRefusedRecordQuarantined(t *testing.T) {
	t.Parallel()
	const bad = "Q-BAD"
	db, f := downSQLite(t)
	rs := &refuseStore{Store: f, marked: bad}
	dir := t.TempDir()
	var logs lockedBuffer
	in, reg := startLoggedIngest(t, rs, ingest.Config{SpoolDir: dir, BatchSize: 3, FlushInterval: time.Second}, &logs)
	spoolThreeRecords(t, in, bad)
	f.down.Store(false)
	eventually(t, "the spool drained", func() bool { return !in.Spooling() })
	wantStoredOnce(t, db, goodKeys...)
	wantNotStored(t, db, bad)
	if q := quarantineFiles(t, dir); len(q) != 1 {
		t.Fatalf("quarantine files %v, want one", q)
	}
	if got := reporttest.Metric(t, reg, "herald_report_commit_panics_total", ""); got != 0 {
		t.Errorf("%v panics, want none", got)
	}
	// The record failed whole at least poisonAfter (3) times, then alone
	// twice (the split and its second chance).
	if got := rs.refused.Load(); got < 5 {
		t.Errorf("the refused report tried %d times, want at least 5", got)
	}
	if !strings.Contains(logs.String(), "constraint failed") {
		t.Errorf("want the cause in the quarantine line:\n%s", logs.String())
	}
}

// TestSpoolLonePoisonWaitsForEvidence: a record of one report that the
// database refuses cannot be told, on its own, from a database refusing
// every write: it is quarantined only once a later record commits.
func TestSpoolLonePoisonWaitsForEvidence(t *testing.T) {
	t.Parallel()
	const bad = "Q-LONE-BAD"
	db, f := downSQLite(t)
	rs := &refuseStore{Store: f, marked: bad}
	dir := t.TempDir()
	var logs lockedBuffer
	in, _ := startLoggedIngest(t, rs, ingest.Config{SpoolDir: dir, BatchSize: 1}, &logs)
	spoolEach(t, in, "Q-L1", bad)
	f.down.Store(false)
	// Whole three times, then alone, then again in later passes.
	eventually(t, "the lone record taken apart", func() bool { return rs.refused.Load() >= 6 })
	if q := quarantineFiles(t, dir); len(q) != 0 || !in.Spooling() {
		t.Fatalf("quarantined %v (spooling %v) with nothing committed after it", q, in.Spooling())
	}
	wantStoredOnce(t, db, "Q-L1")

	// A new report joins the spool behind it; its commit is the evidence.
	spoolEach(t, in, "Q-L2")
	eventually(t, "the spool drained", func() bool { return !in.Spooling() })
	wantStoredOnce(t, db, "Q-L1", "Q-L2")
	if q := quarantineFiles(t, dir); len(q) != 1 {
		t.Fatalf("quarantine files %v, want one", q)
	}
	if st := in.Status().Spool; st.QuarantinedReports != 1 {
		t.Errorf("status %+v, want 1 report quarantined", st)
	}
}

// TestQuarantineCrashPoints replays the states a crash while quarantining
// can leave: a temporary quarantine file not yet renamed (dropped: its
// record is still in its segment and is taken apart again), and a durable
// quarantine file whose segment was not yet removed (the record is skipped:
// quarantined once, its good reports stored once, no new panic).
func TestQuarantineCrashPoints(t *testing.T) {
	t.Parallel()
	const poison = "Q-CRASH-POISON"
	db, f := downSQLite(t)
	ps := &panicStore{Store: f, marked: poison, committed: map[string]int{}}
	dir := t.TempDir()
	cfg := ingest.Config{SpoolDir: dir, BatchSize: 3, FlushInterval: time.Second}
	in, _ := startIngest(t, ps, cfg)
	spoolThreeRecords(t, in, poison)
	stopIngest(t, in)
	segs := map[string][]byte{}
	paths, _ := filepath.Glob(filepath.Join(dir, "spool-*.wal"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		segs[p] = b
	}
	if len(segs) == 0 {
		t.Fatal("nothing spooled")
	}

	// Crash point 1: the temporary file of a quarantine being written.
	tmp := filepath.Join(dir, "quarantine-0000000000000001-000000000000.log.tmp")
	if err := os.WriteFile(tmp, []byte("torn"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.down.Store(false)
	in2, _ := startIngest(t, ps, cfg)
	eventually(t, "the spool drained", func() bool { return !in2.Spooling() })
	stopIngest(t, in2)
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the temporary quarantine file is still there: %v", err)
	}
	q := quarantineFiles(t, dir)
	if len(q) != 1 {
		t.Fatalf("quarantine files %v, want one", q)
	}
	before, err := os.ReadFile(q[0])
	if err != nil {
		t.Fatal(err)
	}

	// Crash point 2: quarantined and fsynced, the segments not yet removed.
	for p, b := range segs {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	in3, reg3 := startIngest(t, ps, cfg)
	if st := in3.Status().Spool; !st.Spooling || st.QuarantinedBatches != 1 || st.QuarantinedReports != 1 {
		t.Errorf("after the restart, status %+v: want spooling and the quarantine counted", st)
	}
	eventually(t, "the spool drained again", func() bool { return !in3.Spooling() })
	if got := reporttest.Metric(t, reg3, "herald_report_commit_panics_total", ""); got != 0 {
		t.Errorf("%v panics: the quarantined record was committed again", got)
	}
	if got := quarantineFiles(t, dir); len(got) != 1 || got[0] != q[0] {
		t.Fatalf("quarantine files %v, want %v alone", got, q)
	}
	if after, _ := os.ReadFile(q[0]); !bytes.Equal(after, before) {
		t.Error("the quarantine file changed: the record was quarantined twice")
	}
	wantStoredOnce(t, db, goodKeys...)
	wantNotStored(t, db, poison)
}

// TestSpoolTwoPoisonRecordsInARow: a lone refused record followed by a
// lone panicking one: the panic is quarantined at once (a bug, whatever
// the database does), the refused one once a later record commits.
func TestSpoolTwoPoisonRecordsInARow(t *testing.T) {
	t.Parallel()
	const bad, bug = "Q-2-BAD", "Q-2-BUG"
	db, f := downSQLite(t)
	rs := &refuseStore{Store: &panicStore{Store: f, marked: bug, committed: map[string]int{}}, marked: bad}
	dir := t.TempDir()
	var logs lockedBuffer
	in, _ := startLoggedIngest(t, rs, ingest.Config{SpoolDir: dir, BatchSize: 1}, &logs)
	spoolEach(t, in, "Q-2-G1", bad, bug)
	f.down.Store(false)
	eventually(t, "the panicking record quarantined", func() bool { return in.Status().Spool.QuarantinedBatches == 1 })
	if !in.Spooling() {
		t.Fatal("the spool drained with the refused record not settled")
	}
	spoolEach(t, in, "Q-2-G2")
	eventually(t, "the spool drained", func() bool { return !in.Spooling() })
	if st := in.Status().Spool; st.QuarantinedBatches != 2 || st.QuarantinedReports != 2 {
		t.Fatalf("status %+v, want both records quarantined", st)
	}
	wantStoredOnce(t, db, "Q-2-G1", "Q-2-G2")
	wantNotStored(t, db, bad, bug)
}

// TestSpoolReplayGroupsRecords: records spooled one report at a time (a
// steady stream) are replayed a few transactions at a time, not one each
// (a failed pass seals the segment, and a group stays within a segment),
// and a report spooled twice (posted again after a lost answer) is stored
// once.
func TestSpoolReplayGroupsRecords(t *testing.T) {
	t.Parallel()
	db, f := downSQLite(t)
	in, _ := startLoggedIngest(t, f, ingest.Config{SpoolDir: t.TempDir(), BatchSize: 100,
		FlushInterval: time.Millisecond, RecentKeys: -1}, &lockedBuffer{})
	var keys []string
	for i := range 10 {
		keys = append(keys, fmt.Sprintf("G-%d", i))
	}
	spoolEach(t, in, append(keys, keys[:5]...)...) // one record each
	if !in.Spooling() {
		t.Fatal("not spooling while the store is down")
	}
	before := f.calls.Load()
	f.down.Store(false)
	eventually(t, "the spool drained", func() bool { return !in.Spooling() })
	if calls := f.calls.Load() - before; calls > 5 {
		t.Errorf("15 records replayed in %d transactions, want them grouped", calls)
	}
	wantStoredOnce(t, db, keys...)
}
