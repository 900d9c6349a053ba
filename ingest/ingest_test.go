package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/ingest"
	"github.com/heraldhq/herald/internal/reporttest"
)

// TestReportsApplied drives the report semantics through HTTP on both
// engines: match by ref and by msgKey, replays, out-of-order reports and
// the SMS fallback.
func TestReportsApplied(t *testing.T) {
	t.Parallel()
	for name, open := range engines {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			e := newEnv(t, s, ingest.Config{})
			rs := accepted(t, s, 6, "K")
			at := reporttest.Epoch.Add(-time.Second)
			ok := func(body []byte) {
				t.Helper()
				reporttest.WantStatus(t, e.Post(heraldhttp.PathReports, body), 200)
			}
			state := func(r herald.Recipient, want herald.RecipientState, channel string) {
				t.Helper()
				if got := reread(t, s, r); got.State != want || got.Channel != channel {
					t.Fatalf("recipient %d: %s via %q, want %s via %q", r.ID, got.State, got.Channel, want, channel)
				}
			}
			// By ref, then replayed twice: still one stored report.
			// A msgKey other than the one recorded for the ref: held.
			ok(reporttest.Bizgo("unrelated", rs[0].MessageID, "ALIMTALK", "10000", at))
			state(rs[0], herald.RecipientAccepted, "")
			eventually(t, "the held report counted", func() bool {
				return reporttest.Metric(t, e.Reg, "herald_reports_committed_total", "held") == 1
			})
			byRef := reporttest.Bizgo(rs[0].MsgKey, rs[0].MessageID, "ALIMTALK", "10000", at)
			for range 3 {
				ok(byRef)
			}
			state(rs[0], herald.RecipientDelivered, "ALIMTALK")
			// By msgKey, with the seed's shape too.
			ok(reporttest.Bizgo(rs[1].MsgKey, "", "ALIMTALK", kakaoFail, at))
			state(rs[1], herald.RecipientFailed, "ALIMTALK")
			ok(infobank.EncodeSeedReport(herald.Report{MsgKey: rs[2].MsgKey, ReportTime: at, Code: "10000"}))
			state(rs[2], herald.RecipientDelivered, "ALIMTALK")
			// Out of order: delivered, then a late failure.
			ok(reporttest.Bizgo(rs[3].MsgKey, rs[3].MessageID, "ALIMTALK", "10000", at.Add(time.Second)))
			ok(reporttest.Bizgo(rs[3].MsgKey, rs[3].MessageID, "ALIMTALK", kakaoFail, at))
			state(rs[3], herald.RecipientDelivered, "ALIMTALK")
			// Fallback: Kakao fails, the SMS arrives; and the reverse order.
			ok(reporttest.Bizgo(rs[4].MsgKey, rs[4].MessageID, "ALIMTALK", kakaoFail, at))
			ok(reporttest.Bizgo(rs[4].MsgKey, rs[4].MessageID, "SMS", "10000", at.Add(time.Second)))
			state(rs[4], herald.RecipientDelivered, "SMS")
			ok(reporttest.Bizgo(rs[5].MsgKey, rs[5].MessageID, "LMS", "10000", at.Add(time.Second)))
			ok(reporttest.Bizgo(rs[5].MsgKey, rs[5].MessageID, "ALIMTALK", kakaoFail, at))
			state(rs[5], herald.RecipientDelivered, "LMS")
			// The 2 replays are answered from the recent keys, without a write.
			if got := reporttest.Metric(t, e.Reg, "herald_reports_committed_total", "unchanged"); got != 2 {
				t.Fatalf("unchanged = %v, want 2 (outranked)", got)
			}
			if got := reporttest.Metric(t, e.Reg, "herald_reports_deduplicated_total", "recent"); got != 2 {
				t.Fatalf("deduplicated = %v, want 2 (replays)", got)
			}
		})
	}
}

// TestUnknownLaterMatched: a report may arrive before herald records the
// msgKey it names; it is kept and applied by the sweep once it is known.
func TestUnknownLaterMatched(t *testing.T) {
	t.Parallel()
	for name, open := range engines {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sweeps := &sweepStore{Store: open(t), matched: make(chan int, 100)}
			r := sending(t, sweeps, 1)[0]
			e := newEnv(t, sweeps, ingest.Config{SweepInterval: time.Millisecond})
			reporttest.WantStatus(t, e.Post(heraldhttp.PathReports, reporttest.Bizgo("EARLY", "", "ALIMTALK", "10000", reporttest.Epoch)), 200)
			if got := reread(t, sweeps, r); got.State != herald.RecipientSending {
				t.Fatalf("state %s before the msgKey is known", got.State)
			}
			record(t, sweeps, r, "EARLY")
			e.Clock.Add(2 * time.Second) // past the first retry delay
			waitFor(t, sweeps.matched, "the sweep to match the report")
			if got := reread(t, sweeps, r); got.State != herald.RecipientDelivered {
				t.Fatalf("state %s after the sweep, want DELIVERED", got.State)
			}
			eventually(t, "the late match counted", func() bool {
				return reporttest.Metric(t, e.Reg, "herald_reports_late_matched_total", "") == 1
			})
		})
	}
}

// sweepStore tells when MatchPendingReports matched something.
type sweepStore struct {
	herald.Store
	matched chan int
}

func (s *sweepStore) MatchPendingReports(ctx context.Context, now time.Time, limit int) (int, error) {
	n, err := s.Store.MatchPendingReports(ctx, now, limit)
	if n > 0 {
		s.matched <- n
	}
	return n, err
}

// TestAnswerAfterCommit: no 200 before ApplyReports has returned.
func TestAnswerAfterCommit(t *testing.T) {
	t.Parallel()
	g := newGateStore(newSQLite(t))
	e := newEnv(t, g, ingest.Config{})
	resp := e.Async(heraldhttp.PathReports, reporttest.Bizgo("D1", "", "ALIMTALK", "10000", reporttest.Epoch))
	waitFor(t, g.entered, "the batch to reach the store")
	select {
	case r := <-resp:
		t.Fatalf("answered %d before the commit returned", r.Status)
	default:
	}
	g.open()
	r := waitFor(t, resp, "the answer")
	reporttest.WantStatus(t, r, 200)
	if g.returned.Load() != 1 {
		t.Fatalf("answered 200 while ApplyReports had not returned")
	}
}

// TestQueueFull: with the committer held in the store and the queue full,
// the next request is shed at once with 429 and Retry-After; the queued
// ones are committed once the store lets go.
func TestQueueFull(t *testing.T) {
	t.Parallel()
	g := newGateStore(newSQLite(t))
	e := newEnv(t, g, ingest.Config{BatchSize: 1, QueueSize: 2})
	first := e.Async(heraldhttp.PathReports, reporttest.Bizgo("Q0", "", "ALIMTALK", "10000", reporttest.Epoch))
	waitFor(t, g.entered, "the first batch to reach the store")
	queued := []<-chan reporttest.Response{
		e.Async(heraldhttp.PathReports, reporttest.Bizgo("Q1", "", "ALIMTALK", "10000", reporttest.Epoch)),
		e.Async(heraldhttp.PathReports, reporttest.Bizgo("Q2", "", "ALIMTALK", "10000", reporttest.Epoch)),
	}
	eventually(t, "two reports queued", func() bool { return e.In.QueueDepth() == 2 })
	if e.In.QueueCapacity() != 2 {
		t.Fatalf("capacity %d", e.In.QueueCapacity())
	}
	for i := range 3 {
		got := e.Post(heraldhttp.PathReports, reporttest.Bizgo("SHED"+strconv.Itoa(i), "", "ALIMTALK", "10000", reporttest.Epoch))
		reporttest.WantStatus(t, got, 429)
		if got.Header.Get("Retry-After") != "1" || !strings.Contains(got.Body, `"code":"busy"`) {
			t.Fatalf("429 without Retry-After: 1 or code busy: %v %s", got.Header, got.Body)
		}
	}
	g.open()
	for _, c := range append(queued, first) {
		reporttest.WantStatus(t, waitFor(t, c, "a queued report's answer"), 200)
	}
	if got := reporttest.Metric(t, e.Reg, "herald_reports_shed_total", ""); got != 3 {
		t.Fatalf("shed = %v, want 3", got)
	}
	if got := reporttest.Metric(t, e.Reg, "herald_reports_received_total", ""); got != 3 {
		t.Fatalf("received = %v, want 3", got)
	}
}

func TestStoreError(t *testing.T) {
	t.Parallel()
	g := newGateStore(newSQLite(t))
	g.fail = errors.New("disk on fire")
	g.open()
	e := newEnv(t, g, ingest.Config{})
	got := e.Post(heraldhttp.PathReports, reporttest.Bizgo("E1", "", "ALIMTALK", "10000", reporttest.Epoch))
	reporttest.WantStatus(t, got, 503)
	if got.Header.Get("Retry-After") == "" || strings.Contains(got.Body, "fire") {
		t.Fatalf("503 %v %s: want Retry-After and no internals", got.Header, got.Body)
	}
	if got := reporttest.Metric(t, e.Reg, "herald_report_commit_errors_total", ""); got != 1 {
		t.Fatalf("commit errors = %v", got)
	}
	if e.In.Status().LastCommitError.IsZero() {
		t.Fatal("the intake's status does not tell the failed commit")
	}
}

func TestWaitTimeout(t *testing.T) {
	t.Parallel()
	g := newGateStore(newSQLite(t))
	e := newEnv(t, g, ingest.Config{WaitTimeout: 20 * time.Millisecond})
	got := e.Post(heraldhttp.PathReports, reporttest.Bizgo("W1", "", "ALIMTALK", "10000", reporttest.Epoch))
	reporttest.WantStatus(t, got, 503)
	if got.Header.Get("Retry-After") != "1" {
		t.Fatalf("503 without Retry-After")
	}
	g.open() // the report is still stored; the provider's retry is a duplicate
}

// TestStopDrains: Stop commits what is queued before it returns, and
// requests after it are refused with 503.
func TestStopDrains(t *testing.T) {
	t.Parallel()
	g := newGateStore(newSQLite(t))
	e := newEnv(t, g, ingest.Config{BatchSize: 1})
	var answers []<-chan reporttest.Response
	for i := range 5 {
		answers = append(answers, e.Async(heraldhttp.PathReports, reporttest.Bizgo("S"+strconv.Itoa(i), "", "ALIMTALK", "10000", reporttest.Epoch)))
	}
	waitFor(t, g.entered, "the first batch")
	eventually(t, "four reports queued", func() bool { return e.In.QueueDepth() == 4 })
	stopped := make(chan error, 1)
	go func() { stopped <- e.In.Stop(context.Background()) }()
	eventually(t, "intake closed", func() bool {
		return e.Post(heraldhttp.PathReports, reporttest.Bizgo("LATE", "", "ALIMTALK", "10000", reporttest.Epoch)).Status == 503
	})
	g.open()
	if err := waitFor(t, stopped, "Stop"); err != nil {
		t.Fatal(err)
	}
	if g.returned.Load() != 5 {
		t.Fatalf("%d reports committed by Stop, want 5", g.returned.Load())
	}
	for _, a := range answers {
		reporttest.WantStatus(t, waitFor(t, a, "an answer"), 200)
	}
	if err := e.In.Stop(context.Background()); err != nil { // idempotent
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := (ingest.Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]ingest.Config{
		"batchSize":     {BatchSize: -1},
		"queueSize":     {BatchSize: 100, QueueSize: 10},
		"committers":    {Committers: 17},
		"waitTimeout":   {WaitTimeout: 5 * time.Second},
		"flushInterval": {FlushInterval: -time.Millisecond},
		"spoolMaxBytes": {SpoolMaxBytes: 1000},
		"spoolAfter":    {SpoolDir: "/nonexistent", SpoolAfter: 4 * time.Second},
	}
	for field, cfg := range cases {
		var inv *herald.InvalidError
		if err := cfg.Validate(); !errors.As(err, &inv) || inv.Field != field {
			t.Errorf("%+v: error %v, want one naming %s", cfg, err, field)
		}
	}
	if _, err := ingest.New(ingest.Config{}, nil, nil, nil); err == nil {
		t.Fatal("New accepted no store")
	}
}

// TestQueueBytes: big bodies are shed by their size before the queue is
// full, so that memory stays bounded whatever the sender posts.
func TestQueueBytes(t *testing.T) {
	t.Parallel()
	g := newGateStore(newSQLite(t))
	e := newEnv(t, g, ingest.Config{QueueBytes: heraldhttp.MaxReportBytes})
	big := func(key string) []byte {
		b := reporttest.Bizgo(key, "", "ALIMTALK", kakaoFail, reporttest.Epoch)
		return bytes.Replace(b, []byte(`"reportText":"`), []byte(`"reportText":"`+strings.Repeat("x", 40<<10)), 1)
	}
	first := e.Async(heraldhttp.PathReports, big("B1"))
	waitFor(t, g.entered, "the first batch")
	reporttest.WantStatus(t, e.Post(heraldhttp.PathReports, big("B2")), 429)
	g.open()
	reporttest.WantStatus(t, waitFor(t, first, "the first answer"), 200)
	reporttest.WantStatus(t, e.Post(heraldhttp.PathReports, big("B3")), 200)
}

// TestMetricsExposed: the webhook's metrics are on the admin API's /metrics.
func TestMetricsExposed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, newSQLite(t), ingest.Config{})
	reporttest.WantStatus(t, e.Post(heraldhttp.PathReports, reporttest.Bizgo("MX", "", "ALIMTALK", "10000", reporttest.Epoch)), 200)
	resp, err := e.Srv.Client().Get(e.Srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"herald_reports_received_total 1", `herald_reports_committed_total{result="unmatched"} 1`,
		"herald_report_queue_depth 0", "herald_report_queue_capacity 10000", "herald_report_batch_size_count 1",
		"herald_report_commit_duration_seconds_count 1", "herald_reports_shed_total 0"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
