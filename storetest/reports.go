package storetest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

// ReportLister is the audit read every store offers beside herald.Store:
// the stored reports of one msgKey, in arrival order, raw body included.
type ReportLister interface {
	ReportsByMsgKey(ctx context.Context, msgKey string) ([]herald.Report, error)
}

// Report codes used below.
const (
	codeNotKakaoUser = "63019"
	codeBlocked      = "63020"
)

// accepted returns a running campaign with n recipients that were sent and
// accepted, with msgKeys K0, K1…
func accepted(t *testing.T, s herald.Store, n int) (herald.Campaign, []herald.Recipient) {
	t.Helper()
	c := running(t, s, n)
	got := claim(t, s, c, "w", n, epoch)
	ups := make([]herald.RecipientUpdate, len(got))
	for i, r := range got {
		ups[i] = herald.RecipientUpdate{ID: r.ID, Owner: "w", Token: r.ClaimToken, State: herald.RecipientAccepted,
			MsgKey: fmt.Sprintf("K%d", i), ResultCode: "A000", At: epoch}
	}
	if err := s.RecordOutcomes(ctx(t), ups); err != nil {
		t.Fatal(err)
	}
	return c, must(s.ListRecipients(ctx(t), c.ID, 0, n))(t)
}

// another prepares a second running campaign over the same members.
func another(t *testing.T, s herald.Store) herald.Campaign {
	t.Helper()
	c := seedCampaign(t, s, herald.Audience{All: true})
	must(s.AcquireCampaignLease(ctx(t), "prep", epoch, time.Minute))(t)
	must(s.PrepareRecipients(ctx(t), c.ID, "prep", epoch))(t)
	return c
}

// report builds a report for msgKey/ref with a raw body like the provider's.
func report(msgKey, ref, service, code string, at time.Time) herald.Report {
	r := herald.Report{MsgKey: msgKey, Ref: ref, ServiceType: service, MsgType: "AT", ReportTime: at,
		ReportType: "0", Code: code, Text: "text of " + code}
	r.Raw = fmt.Appendf(nil, `{"msgKey":%q,"ref":%q,"serviceType":%q,"reportCode":%q}`, msgKey, ref, service, code)
	return r
}

// apply runs ApplyReports and checks that every report is counted once.
func apply(t *testing.T, s herald.Store, now time.Time, reports ...herald.Report) herald.ReportResult {
	t.Helper()
	res := must(s.ApplyReports(ctx(t), reports, now))(t)
	if res.Matched+res.Unmatched+res.Unchanged+res.Held != len(reports) {
		t.Fatalf("result %+v does not add up to %d reports", res, len(reports))
	}
	return res
}

func wantResult(t *testing.T, got herald.ReportResult, matched, unmatched, unchanged int) {
	t.Helper()
	if want := (herald.ReportResult{Matched: matched, Unmatched: unmatched, Unchanged: unchanged}); got != want {
		t.Fatalf("result = %+v, want %+v", got, want)
	}
}

// reread returns the current row of recipient r.
func reread(t *testing.T, s herald.Store, r herald.Recipient) herald.Recipient {
	t.Helper()
	rows := must(s.ListRecipients(ctx(t), r.CampaignID, r.ID-1, 1))(t)
	if len(rows) != 1 || rows[0].ID != r.ID {
		t.Fatalf("recipient %d not found: %+v", r.ID, rows)
	}
	return rows[0]
}

func wantRecipient(t *testing.T, got herald.Recipient, state herald.RecipientState, code, channel string) {
	t.Helper()
	if got.State != state || got.ResultCode != code || got.Channel != channel {
		t.Fatalf("recipient %d = %s/%s/%q, want %s/%s/%q (row %+v)", got.ID, got.State, got.ResultCode, got.Channel,
			state, code, channel, got)
	}
}

func testReportsMatchByRef(t *testing.T, s herald.Store) {
	_, rs := accepted(t, s, 2)
	// The ref wins over a msgKey that names no recipient.
	res := apply(t, s, epoch, report("K-unknown", rs[0].MessageID, "ALIMTALK", herald.ReportDelivered, epoch))
	if res != (herald.ReportResult{Held: 1}) {
		t.Fatalf("result %+v: a msgKey other than the recorded one must hold the report", res)
	}
	wantRecipient(t, reread(t, s, rs[0]), herald.RecipientAccepted, "A000", "")
	res = apply(t, s, epoch, report(rs[0].MsgKey, rs[0].MessageID, "ALIMTALK", herald.ReportDelivered, epoch))
	wantResult(t, res, 1, 0, 0)
	got := reread(t, s, rs[0])
	wantRecipient(t, got, herald.RecipientDelivered, herald.ReportDelivered, "ALIMTALK")
	if got.MsgKey != rs[0].MsgKey || got.ResultText != "text of 10000" {
		t.Fatalf("recipient %+v: msgKey or text changed wrongly", got)
	}
	wantRecipient(t, reread(t, s, rs[1]), herald.RecipientAccepted, "A000", "")

	// A report can beat the send's own record: it applies to the SENDING
	// row, records the msgKey, and the late record then changes nothing.
	sending := claim(t, s, another(t, s), "w2", 1, epoch)[0]
	wantResult(t, apply(t, s, epoch, report("FAST", sending.MessageID, "ALIMTALK", codeBlocked, epoch)), 1, 0, 0)
	got = reread(t, s, sending)
	wantRecipient(t, got, herald.RecipientFailed, codeBlocked, "ALIMTALK")
	if got.MsgKey != "FAST" || got.LeaseOwner != "" {
		t.Fatalf("recipient %+v: want msgKey FAST recorded and the lease released", got)
	}
	err := s.RecordOutcomes(ctx(t), []herald.RecipientUpdate{{ID: sending.ID, Owner: "w2", Token: sending.ClaimToken,
		State: herald.RecipientAccepted, MsgKey: "FAST", ResultCode: "A000", At: epoch}})
	if err != nil {
		t.Fatal(err)
	}
	wantRecipient(t, reread(t, s, sending), herald.RecipientFailed, codeBlocked, "ALIMTALK")
}

// testReportsContradictingMsgKey: a report whose ref names a message that
// was answered with another msgKey (forged, or misrouted) is stored but
// held: it moves nobody, now or in a later sweep, and is counted apart. A
// seed report without ref (its messageId in both fields) is no
// contradiction.
func testReportsContradictingMsgKey(t *testing.T, s herald.Store) {
	_, rs := accepted(t, s, 2)
	forged := report(rs[1].MsgKey, rs[0].MessageID, "ALIMTALK", herald.ReportDelivered, epoch)
	if res := apply(t, s, epoch, forged); res != (herald.ReportResult{Held: 1}) {
		t.Fatalf("result %+v, want the report held", res)
	}
	wantRecipient(t, reread(t, s, rs[0]), herald.RecipientAccepted, "A000", "")
	wantRecipient(t, reread(t, s, rs[1]), herald.RecipientAccepted, "A000", "")
	if n := must(s.MatchPendingReports(ctx(t), epoch.Add(2*time.Hour), 10))(t); n != 0 {
		t.Fatalf("the sweep matched %d held reports", n)
	}
	wantRecipient(t, reread(t, s, rs[0]), herald.RecipientAccepted, "A000", "")
	if got := must(reportLister(t, s).ReportsByMsgKey(ctx(t), rs[1].MsgKey))(t); len(got) != 1 {
		t.Fatalf("%d reports stored, want the held one kept", len(got))
	}
	// A copy is a copy; the genuine report still applies.
	wantResult(t, apply(t, s, epoch, forged), 0, 0, 1)
	wantResult(t, apply(t, s, epoch, report(rs[0].MsgKey, rs[0].MessageID, "ALIMTALK", codeBlocked, epoch)), 1, 0, 0)
	wantRecipient(t, reread(t, s, rs[0]), herald.RecipientFailed, codeBlocked, "ALIMTALK")

	// The seed's shape without ref carries herald's message id as both.
	seed := report(rs[1].MessageID, rs[1].MessageID, "ALIMTALK", herald.ReportDelivered, epoch)
	wantResult(t, apply(t, s, epoch, seed), 1, 0, 0)
	if got := reread(t, s, rs[1]); got.State != herald.RecipientDelivered || got.MsgKey != rs[1].MsgKey {
		t.Fatalf("recipient %+v after a seed report without ref", got)
	}
}

func testReportsMatchByMsgKey(t *testing.T, s herald.Store) {
	_, rs := accepted(t, s, 2)
	res := apply(t, s, epoch, report(rs[1].MsgKey, "", "ALIMTALK", codeNotKakaoUser, epoch))
	wantResult(t, res, 1, 0, 0)
	wantRecipient(t, reread(t, s, rs[1]), herald.RecipientFailed, codeNotKakaoUser, "ALIMTALK")

	// A seed report without ref carries herald's message id as both ids: it
	// matches by ref and is not recorded as the provider's msgKey.
	r := claim(t, s, another(t, s), "w", 1, epoch)[0]
	wantResult(t, apply(t, s, epoch, report(r.MessageID, r.MessageID, "ALIMTALK", herald.ReportDelivered, epoch)), 1, 0, 0)
	got := reread(t, s, r)
	wantRecipient(t, got, herald.RecipientDelivered, herald.ReportDelivered, "ALIMTALK")
	if got.MsgKey != "" {
		t.Fatalf("msgKey = %q, want none recorded", got.MsgKey)
	}
}

func testReportsDuplicate(t *testing.T, s herald.Store) {
	_, rs := accepted(t, s, 1)
	rep := report(rs[0].MsgKey, rs[0].MessageID, "ALIMTALK", herald.ReportDelivered, epoch.Add(time.Second))
	wantResult(t, apply(t, s, epoch, rep), 1, 0, 0)
	wantResult(t, apply(t, s, epoch.Add(time.Minute), rep), 0, 0, 1)
	wantResult(t, apply(t, s, epoch.Add(time.Minute), rep, rep), 0, 0, 2)
	wantRecipient(t, reread(t, s, rs[0]), herald.RecipientDelivered, herald.ReportDelivered, "ALIMTALK")

	// Copies within one batch, matched or not, are stored once.
	unknown := report("NOBODY", "", "ALIMTALK", codeBlocked, epoch)
	wantResult(t, apply(t, s, epoch, unknown, unknown), 0, 1, 1)
	other := report("K-other", "", "SMS", herald.ReportDelivered, epoch)
	wantResult(t, apply(t, s, epoch, other, other, unknown), 0, 1, 2)
	// Of copies in one batch whose bodies differ (a retry re-encoded), the
	// first is the one kept, wherever the batch is split.
	var batch []herald.Report
	for i := range 300 {
		r := report(fmt.Sprint("K-copy-", i%150), "", "ALIMTALK", codeBlocked, epoch)
		r.Raw = fmt.Appendf(r.Raw, " copy %d", i/150)
		batch = append(batch, r)
	}
	wantResult(t, apply(t, s, epoch, batch...), 0, 150, 150)
	lister := reportLister(t, s)
	for _, key := range []string{"K-copy-0", "K-copy-77", "K-copy-149"} {
		got := must(lister.ReportsByMsgKey(ctx(t), key))(t)
		if len(got) != 1 || !bytes.HasSuffix(got[0].Raw, []byte(" copy 0")) {
			t.Fatalf("stored for %s: %d reports (%v); want one, the first copy", key, len(got), got)
		}
	}
	for key, want := range map[string]int{rs[0].MsgKey: 1, "NOBODY": 1, "K-other": 1} {
		if got := must(lister.ReportsByMsgKey(ctx(t), key))(t); len(got) != want {
			t.Fatalf("%d reports stored for %s, want %d", len(got), key, want)
		}
	}
}

func testReportsOutOfOrder(t *testing.T, s herald.Store) {
	_, rs := accepted(t, s, 2)
	delivered := report(rs[0].MsgKey, rs[0].MessageID, "ALIMTALK", herald.ReportDelivered, epoch.Add(2*time.Second))
	failed := report(rs[0].MsgKey, rs[0].MessageID, "ALIMTALK", codeBlocked, epoch.Add(time.Second))
	wantResult(t, apply(t, s, epoch, delivered), 1, 0, 0)
	wantResult(t, apply(t, s, epoch, failed), 0, 0, 1)
	wantRecipient(t, reread(t, s, rs[0]), herald.RecipientDelivered, herald.ReportDelivered, "ALIMTALK")

	// The same two in one batch: the delivered one wins whatever its place.
	failed1 := report(rs[1].MsgKey, rs[1].MessageID, "ALIMTALK", codeBlocked, epoch.Add(time.Second))
	delivered1 := report(rs[1].MsgKey, rs[1].MessageID, "ALIMTALK", herald.ReportDelivered, epoch.Add(2*time.Second))
	wantResult(t, apply(t, s, epoch, failed1, delivered1), 1, 0, 1)
	wantRecipient(t, reread(t, s, rs[1]), herald.RecipientDelivered, herald.ReportDelivered, "ALIMTALK")
}

func testReportsFallback(t *testing.T, s herald.Store) {
	_, rs := accepted(t, s, 4)
	kakao := func(r herald.Recipient) herald.Report {
		return report(r.MsgKey, r.MessageID, "ALIMTALK", codeNotKakaoUser, epoch.Add(time.Second))
	}
	sms := func(r herald.Recipient, service string) herald.Report {
		return report(r.MsgKey, r.MessageID, service, herald.ReportDelivered, epoch.Add(3*time.Second))
	}
	// Kakao fails, then the SMS fallback is delivered.
	wantResult(t, apply(t, s, epoch, kakao(rs[0])), 1, 0, 0)
	wantRecipient(t, reread(t, s, rs[0]), herald.RecipientFailed, codeNotKakaoUser, "ALIMTALK")
	wantResult(t, apply(t, s, epoch, sms(rs[0], "SMS")), 1, 0, 0)
	wantRecipient(t, reread(t, s, rs[0]), herald.RecipientDelivered, herald.ReportDelivered, "SMS")
	// The reverse arrival order ends the same.
	wantResult(t, apply(t, s, epoch, sms(rs[1], "LMS")), 1, 0, 0)
	wantResult(t, apply(t, s, epoch, kakao(rs[1])), 0, 0, 1)
	wantRecipient(t, reread(t, s, rs[1]), herald.RecipientDelivered, herald.ReportDelivered, "LMS")
	// Both in one batch, in either order.
	wantResult(t, apply(t, s, epoch, kakao(rs[2]), sms(rs[2], "SMS"), sms(rs[3], "SMS"), kakao(rs[3])), 2, 0, 2)
	wantRecipient(t, reread(t, s, rs[2]), herald.RecipientDelivered, herald.ReportDelivered, "SMS")
	wantRecipient(t, reread(t, s, rs[3]), herald.RecipientDelivered, herald.ReportDelivered, "SMS")
	// A failed fallback after a failed Kakao leg keeps the first failure.
	failedSMS := report(rs[0].MsgKey, rs[0].MessageID, "SMS", "30001", epoch.Add(4*time.Second))
	wantResult(t, apply(t, s, epoch, failedSMS), 0, 0, 1)
	wantRecipient(t, reread(t, s, rs[0]), herald.RecipientDelivered, herald.ReportDelivered, "SMS")
}

func testReportsUnknownLaterMatched(t *testing.T, s herald.Store) {
	c := running(t, s, 1)
	r := claim(t, s, c, "w", 1, epoch)[0]
	// The report names only the msgKey, which the send has not recorded yet.
	late := report("LATE", "", "ALIMTALK", herald.ReportDelivered, epoch)
	never := report("NEVER", "", "ALIMTALK", herald.ReportDelivered, epoch)
	wantResult(t, apply(t, s, epoch, late, never), 0, 2, 0)
	wantRecipient(t, reread(t, s, r), herald.RecipientSending, "", "")
	if n := must(s.MatchPendingReports(ctx(t), epoch, 10))(t); n != 0 {
		t.Fatalf("matched %d before the msgKey was recorded", n)
	}
	err := s.RecordOutcomes(ctx(t), []herald.RecipientUpdate{{ID: r.ID, Owner: "w", Token: r.ClaimToken,
		State: herald.RecipientAccepted, MsgKey: "LATE", ResultCode: "A000", At: epoch}})
	if err != nil {
		t.Fatal(err)
	}
	// A failed try waits at least a second before the next.
	if n := must(s.MatchPendingReports(ctx(t), epoch.Add(999*time.Millisecond), 10))(t); n != 0 {
		t.Fatalf("matched %d before the retry was due", n)
	}
	if n := must(s.MatchPendingReports(ctx(t), epoch.Add(time.Second), 10))(t); n != 1 {
		t.Fatalf("matched %d, want the late report", n)
	}
	wantRecipient(t, reread(t, s, r), herald.RecipientDelivered, herald.ReportDelivered, "ALIMTALK")
	// The delay grows with age; a matched report is never tried again.
	if n := must(s.MatchPendingReports(ctx(t), epoch.Add(2*time.Hour), 10))(t); n != 0 {
		t.Fatalf("matched %d again", n)
	}
	// A copy of the report, now that it is matched, changes nothing.
	wantResult(t, apply(t, s, epoch.Add(time.Hour), late), 0, 0, 1)
}

func testReportsMatchFair(t *testing.T, s herald.Store) {
	c := running(t, s, 1)
	r := claim(t, s, c, "w", 1, epoch)[0]
	var junk []herald.Report
	for i := range 5 {
		junk = append(junk, report(fmt.Sprintf("JUNK%d", i), "", "ALIMTALK", codeBlocked, epoch))
	}
	apply(t, s, epoch, junk...)
	apply(t, s, epoch.Add(time.Millisecond), report("LATE", "", "ALIMTALK", herald.ReportDelivered, epoch))
	err := s.RecordOutcomes(ctx(t), []herald.RecipientUpdate{{ID: r.ID, Owner: "w", Token: r.ClaimToken,
		State: herald.RecipientAccepted, MsgKey: "LATE", At: epoch}})
	if err != nil {
		t.Fatal(err)
	}
	// Reports that never match are pushed back, so a sweep with a small
	// limit still reaches the one that does.
	matched := 0
	for i := range 10 {
		matched += must(s.MatchPendingReports(ctx(t), epoch.Add(time.Duration(i)*time.Second), 2))(t)
	}
	if matched != 1 {
		t.Fatalf("matched %d, want 1", matched)
	}
	wantRecipient(t, reread(t, s, r), herald.RecipientDelivered, herald.ReportDelivered, "ALIMTALK")
}

// lateReports makes n recipients whose delivery reports arrived before
// their send was recorded (keys PREFIX0…): stored unmatched, each matches
// its recipient at the next sweep.
func lateReports(t *testing.T, s herald.Store, n int, prefix string) (herald.Campaign, []herald.Recipient) {
	t.Helper()
	c := running(t, s, n)
	rs := claim(t, s, c, "w", n, epoch)
	var reps []herald.Report
	var ups []herald.RecipientUpdate
	for i, r := range rs {
		key := fmt.Sprintf("%s%d", prefix, i)
		reps = append(reps, report(key, "", "ALIMTALK", herald.ReportDelivered, epoch))
		ups = append(ups, herald.RecipientUpdate{ID: r.ID, Owner: "w", Token: r.ClaimToken,
			State: herald.RecipientAccepted, MsgKey: key, At: epoch})
	}
	wantResult(t, apply(t, s, epoch, reps...), 0, n, 0)
	if err := s.RecordOutcomes(ctx(t), ups); err != nil {
		t.Fatal(err)
	}
	return c, rs
}

// testReportsMatchMany: a sweep takes every due report up to its limit,
// however the store splits it into transactions (SQLite: 200 a time).
func testReportsMatchMany(t *testing.T, s herald.Store) {
	const n, first = 600, 330
	_, rs := lateReports(t, s, n, "MANY")
	later := epoch.Add(time.Second)
	if m := must(s.MatchPendingReports(ctx(t), later, first))(t); m != first {
		t.Fatalf("a sweep with limit %d matched %d", first, m)
	}
	if m := must(s.MatchPendingReports(ctx(t), later, 1000))(t); m != n-first {
		t.Fatalf("the next sweep matched %d, want the %d left", m, n-first)
	}
	for _, r := range []herald.Recipient{rs[0], rs[first-1], rs[first], rs[n-1]} {
		wantRecipient(t, reread(t, s, r), herald.RecipientDelivered, herald.ReportDelivered, "ALIMTALK")
	}
}

// testReportsMatchInterrupted: sweeps cut short at random moments (the
// context ends mid-transaction or between two of its transactions, as
// when the process dies during a sweep) lose nothing: the sweeps that
// follow match every report left, every recipient ends delivered, the
// campaign's counters agree with its rows, and the sweeps never say they
// matched more reports than there are.
func testReportsMatchInterrupted(t *testing.T, s herald.Store) {
	const n = 600
	c, rs := lateReports(t, s, n, "CUT")
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	later := epoch.Add(time.Second)
	matched, cut := 0, 0
	for i := 0; i < 200 && matched < n; i++ {
		sweep, cancel := context.WithCancel(ctx(t))
		// Cuts from at once to i ms in: early sweeps all cut short, later
		// ones on any store's speed, some between two transactions.
		stop := time.AfterFunc(time.Duration(rng.Int64N(int64(i+1)*int64(time.Millisecond))), cancel)
		m, err := s.MatchPendingReports(sweep, later, n)
		stop.Stop()
		cancel()
		matched += m // a sweep cut short counts only what it committed
		if err != nil {
			cut++
		}
	}
	// What the cuts left due is taken by uninterrupted sweeps. A cut
	// transaction may hold its rows a moment longer on a server (SKIP
	// LOCKED passes them by): sweep until every recipient has moved.
	deadline := time.Now().Add(10 * time.Second)
	for {
		matched += must(s.MatchPendingReports(ctx(t), later, n))(t)
		got := must(s.GetCampaign(ctx(t), c.ID))(t)
		if got.Counts[herald.RecipientDelivered] == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters %v after the sweeps, want %d delivered (%d cut short, seed %d)", got.Counts, n, cut, seed)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m := must(s.MatchPendingReports(ctx(t), later, n))(t); m != 0 {
		t.Fatalf("a sweep after everything matched moved %d more", m)
	}
	if matched > n {
		t.Fatalf("sweeps said they matched %d, more than the %d reports (seed %d)", matched, n, seed)
	}
	for _, r := range rs {
		wantRecipient(t, reread(t, s, r), herald.RecipientDelivered, herald.ReportDelivered, "ALIMTALK")
	}
	got := must(s.GetCampaign(ctx(t), c.ID))(t)
	if got.Counts[herald.RecipientDelivered] != n || got.Counts[herald.RecipientAccepted] != 0 {
		t.Fatalf("counters %v, want %d delivered (seed %d)", got.Counts, n, seed)
	}
	t.Logf("%d sweeps cut short before every report matched (seed %d)", cut, seed)
}

func testReportsRawKept(t *testing.T, s herald.Store) {
	at := epoch.Add(1234 * time.Millisecond)
	rep := report("RAW", "h9-9", "ALIMTALK", codeBlocked, at)
	rep.Raw = []byte("{\"msgKey\":\"RAW\",\"x\":\"\xff\x00\"}") // kept byte for byte, even when not UTF-8
	wantResult(t, apply(t, s, epoch, rep), 0, 1, 0)
	got := must(reportLister(t, s).ReportsByMsgKey(ctx(t), "RAW"))(t)
	if len(got) != 1 {
		t.Fatalf("%d reports stored, want 1", len(got))
	}
	g := got[0]
	if !bytes.Equal(g.Raw, rep.Raw) || !g.ReportTime.Equal(at) || g.Ref != "h9-9" || g.Code != codeBlocked ||
		g.Text != rep.Text || g.ServiceType != "ALIMTALK" || g.ReportType != "0" {
		t.Fatalf("stored %+v (raw %q), want %+v (raw %q)", g, g.Raw, rep, rep.Raw)
	}
}

// testReportsConcurrent applies overlapping batches at once, in different
// orders, as several committers or processes do: no error, and every row
// ends where the best report puts it.
func testReportsConcurrent(t *testing.T, s herald.Store) {
	const n, writers = 30, 4
	_, rs := accepted(t, s, n)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		batch := make([]herald.Report, 0, 2*n)
		for i := range rs {
			r := rs[(i*7+w*11)%n]
			batch = append(batch,
				report(r.MsgKey, r.MessageID, "ALIMTALK", codeNotKakaoUser, epoch.Add(time.Duration(w)*time.Second)),
				report(r.MsgKey, r.MessageID, "SMS", herald.ReportDelivered, epoch.Add(time.Minute)))
		}
		if w%2 == 1 {
			for i, j := 0, len(batch)-1; i < j; i, j = i+1, j-1 {
				batch[i], batch[j] = batch[j], batch[i]
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.ApplyReports(ctx(t), batch, epoch)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range rs {
		wantRecipient(t, reread(t, s, r), herald.RecipientDelivered, herald.ReportDelivered, "SMS")
	}
}

func reportLister(t *testing.T, s herald.Store) ReportLister {
	t.Helper()
	l, ok := s.(ReportLister)
	if !ok {
		t.Fatalf("%T does not implement storetest.ReportLister", s)
	}
	return l
}

// runReports runs the report tests in parallel, each on a store of its own.
func runReports(t *testing.T, newStore NewStore) {
	tests := map[string]func(*testing.T, herald.Store){
		"MatchByRef":          testReportsMatchByRef,
		"MatchByMsgKey":       testReportsMatchByMsgKey,
		"Duplicate":           testReportsDuplicate,
		"OutOfOrder":          testReportsOutOfOrder,
		"Fallback":            testReportsFallback,
		"UnknownLaterMatched": testReportsUnknownLaterMatched,
		"MatchFair":           testReportsMatchFair,
		"MatchMany":           testReportsMatchMany,
		"MatchInterrupted":    testReportsMatchInterrupted,
		"RawKept":             testReportsRawKept,
		"ContradictingMsgKey": testReportsContradictingMsgKey,
		"Concurrent":          testReportsConcurrent,
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newStore(t))
		})
	}
}
