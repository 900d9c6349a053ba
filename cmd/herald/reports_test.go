package main

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingest"
	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/storetest"
)

// A report the spool quarantined is stored by `herald reports
// replay-quarantine` once the bug is gone (here: the store without it),
// and its file removed; the command refuses without a spool directory.
func TestReportsReplayQuarantine(t *testing.T) {
	t.Parallel()
	path, dir := filepath.Join(t.TempDir(), "h.db"), t.TempDir()
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := &storetest.Faulty{Store: db, Marked: "QR-POISON"}
	store.Down.Store(true)
	in, err := ingest.New(ingest.Config{SpoolDir: dir, BatchSize: 1}, store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"QR-GOOD", "QR-POISON"} {
		r := herald.Report{MsgKey: k, ServiceType: "ALIMTALK", ReportType: "0", Code: "10000", ReportTime: time.Now().UTC(), Raw: []byte(`{}`)}
		if err := in.Submit(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	store.Down.Store(false)
	// Polled: a state the replayer reaches and then keeps.
	deadline := time.Now().Add(30 * time.Second)
	for in.Spooling() || in.Status().Spool.QuarantinedReports != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("spool not drained into the database and the quarantine: %+v", in.Status().Spool)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := in.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}

	run := func(args ...string) (string, error) {
		root := newRootCmd()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append([]string{"reports", "replay-quarantine", "--db", "sqlite:" + path}, args...))
		err := root.ExecuteContext(t.Context())
		return out.String(), err
	}
	var inv *herald.InvalidError
	if _, err := run(); !errors.As(err, &inv) || inv.Field != "report-spool-dir" {
		t.Fatalf("without --report-spool-dir: %v, want it named", err)
	}
	out, err := run("--report-spool-dir", dir)
	if err != nil || !strings.Contains(out, "1 quarantine files replayed, 1 reports stored") {
		t.Fatalf("replay-quarantine: %v\n%s", err, out)
	}
	got, err := db.ReportsByMsgKey(t.Context(), "QR-POISON")
	if err != nil || len(got) != 1 {
		t.Fatalf("the quarantined report stored %d times (%v), want once", len(got), err)
	}
	if files, _ := ingest.QuarantineFiles(dir); len(files) != 0 {
		t.Fatalf("quarantine files left: %v", files)
	}
}
