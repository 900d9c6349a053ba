package storetest

import (
	"fmt"
	"reflect"
	"regexp"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

// The tests below prove the at-most-once part of the contract: claim
// tokens fence every write, live owners keep their rows, frozen requests
// round-trip exactly, a row in doubt stays in doubt, and no campaign that
// ends strands a row in a state that waits for a send.

// Result codes the store writes when it settles rows itself.
const (
	codeInDoubt        = "IN_DOUBT"
	codeCampaignFailed = "CAMPAIGN_FAILED"
	codeNoReport       = "NO_REPORT"
)

// wantRow checks a row's state and, when code is not "", its result code,
// and that it is not leased unless SENDING.
func wantRow(t *testing.T, r herald.Recipient, state herald.RecipientState, code string) {
	t.Helper()
	if r.State != state || (code != "" && r.ResultCode != code) {
		t.Fatalf("recipient %d = %s/%s, want %s/%s (row %+v)", r.ID, r.State, r.ResultCode, state, code, r)
	}
	if state != herald.RecipientSending && (r.LeaseOwner != "" || !r.LeaseUntil.IsZero()) {
		t.Fatalf("recipient %d is %s but still leased: %+v", r.ID, state, r)
	}
}

// testFencing: a write carrying the token of an earlier claim changes
// nothing, even from the same owner name, once the row was requeued and
// claimed again.
func testFencing(t *testing.T, s herald.Store) {
	c := running(t, s, 3)
	old := claim(t, s, c, "a", 3, epoch)
	// a never heartbeats: it is taken for dead and its rows are requeued.
	now := epoch.Add(time.Minute)
	if n := must(s.RequeueAbandoned(ctx(t), now, now, 10))(t); n != 3 {
		t.Fatalf("requeued %d, want 3", n)
	}
	// A new process with the same owner name claims them again.
	fresh := byID(claim(t, s, c, "a", 3, now))
	if len(fresh) != 3 {
		t.Fatalf("claimed %d after requeue, want 3", len(fresh))
	}
	for _, o := range old {
		f := fresh[o.ID]
		if f.ClaimToken <= o.ClaimToken || f.Attempts != 1 || f.MessageID != o.MessageID {
			t.Fatalf("reclaimed %+v after %+v: want a newer token, the attempt uncounted and the same message id", f, o)
		}
	}

	// The old claim's writes are all ignored.
	stale := outcome(old[0], herald.RecipientAccepted, now)
	stale.MsgKey = "STALE"
	record(t, s, stale)
	err := s.MarkBatches(ctx(t), "a", []herald.SentRequest{sentRequest("K-old", now, old[1])})
	wantErr(t, err, herald.ErrConflict)
	if got := must(s.Requests(ctx(t), []string{"K-old"}))(t); len(got) != 0 {
		t.Fatalf("a refused MarkBatches stored its request: %+v", got)
	}
	release(t, s, "a", now, old[2])
	for _, r := range rowsOf(t, s, c) {
		f := fresh[r.ID]
		if r.State != herald.RecipientSending || r.LeaseOwner != "a" || r.ClaimToken != f.ClaimToken ||
			r.MsgKey != "" || r.BatchKey != "" || r.Attempts != 1 {
			t.Fatalf("a stale write changed %+v (claimed as %+v)", r, f)
		}
	}

	// The new claim's writes apply.
	f0, f1, f2 := fresh[old[0].ID], fresh[old[1].ID], fresh[old[2].ID]
	ok := outcome(f0, herald.RecipientAccepted, now)
	ok.MsgKey = "NEW"
	record(t, s, ok)
	mark(t, s, "a", sentRequest("K-new", now, f1))
	release(t, s, "a", now, f2)
	rows := rowsOf(t, s, c)
	wantRow(t, rows[f0.ID], herald.RecipientAccepted, "")
	if rows[f0.ID].MsgKey != "NEW" {
		t.Fatalf("msgKey = %q, want NEW", rows[f0.ID].MsgKey)
	}
	wantRow(t, rows[f1.ID], herald.RecipientSending, "")
	if rows[f1.ID].BatchKey != "K-new" || !rows[f1.ID].SentAt.Equal(now) {
		t.Fatalf("marked row %+v, want key K-new sent at %v", rows[f1.ID], now)
	}
	wantRow(t, rows[f2.ID], herald.RecipientPending, "")
	if rows[f2.ID].Attempts != 0 {
		t.Fatalf("released row %+v: want the attempt uncounted", rows[f2.ID])
	}
}

// testFencingAfterRelease: release and claim again by the same owner; the
// first claim's token no longer writes.
func testFencingAfterRelease(t *testing.T, s herald.Store) {
	c := running(t, s, 1)
	first := claim(t, s, c, "w", 1, epoch)[0]
	release(t, s, "w", epoch, first)
	second := claim(t, s, c, "w", 1, epoch)[0]
	if second.ID != first.ID || second.ClaimToken <= first.ClaimToken {
		t.Fatalf("second claim %+v after %+v: want the same row with a newer token", second, first)
	}
	record(t, s, outcome(first, herald.RecipientFailed, epoch))
	err := s.MarkBatches(ctx(t), "w", []herald.SentRequest{sentRequest("K1", epoch, first)})
	wantErr(t, err, herald.ErrConflict)
	release(t, s, "w", epoch, first)
	r := reread(t, s, first)
	wantRow(t, r, herald.RecipientSending, "")
	if r.ClaimToken != second.ClaimToken || r.BatchKey != "" {
		t.Fatalf("row %+v, want untouched by the first claim's writes", r)
	}
	record(t, s, outcome(second, herald.RecipientFailed, epoch))
	wantRow(t, reread(t, s, first), herald.RecipientFailed, "")
}

// testRequeueAbandoned: rows of an owner that heartbeats are never
// requeued, however old their lease; rows of a silent owner are, keyed rows
// in doubt and unkeyed rows uncounted.
func testRequeueAbandoned(t *testing.T, s herald.Store) {
	c := running(t, s, 6)
	as := claim(t, s, c, "a", 3, epoch) // leases end at epoch+1m
	bs := claim(t, s, c, "b", 2, epoch)
	ghost := claim(t, s, c, "ghost", 1, epoch)[0] // never heartbeats
	mark(t, s, "a", sentRequest("KA", epoch, as[0], as[1]))
	mark(t, s, "b", sentRequest("KB", epoch, bs[0]))
	now := epoch.Add(time.Hour)
	must(0, s.Heartbeat(ctx(t), "a", now))(t)
	must(0, s.Heartbeat(ctx(t), "b", now))(t)

	if n := must(s.RequeueAbandoned(ctx(t), now, now.Add(-3*time.Second), 100))(t); n != 1 {
		t.Fatalf("requeued %d, want only the row of the owner that never heartbeat", n)
	}
	g := reread(t, s, ghost)
	wantRow(t, g, herald.RecipientPending, "")
	if g.Attempts != 0 || g.ClaimToken <= ghost.ClaimToken {
		t.Fatalf("requeued %+v: want attempt uncounted and token bumped from %d", g, ghost.ClaimToken)
	}
	for _, r := range append(append([]herald.Recipient{}, as...), bs...) {
		wantRow(t, reread(t, s, r), herald.RecipientSending, "")
	}

	// b stops heartbeating, a goes on. Limit bounds each call.
	later := now.Add(10 * time.Second)
	must(0, s.Heartbeat(ctx(t), "a", later))(t)
	total := 0
	for range 5 {
		n := must(s.RequeueAbandoned(ctx(t), later, later.Add(-3*time.Second), 1))(t)
		if n > 1 {
			t.Fatalf("requeued %d with limit 1", n)
		}
		total += n
	}
	if total != 2 {
		t.Fatalf("requeued %d of b's rows, want 2", total)
	}
	b0, b1 := reread(t, s, bs[0]), reread(t, s, bs[1])
	wantRow(t, b0, herald.RecipientRetryWait, "")
	if !b0.InDoubt || b0.BatchKey != "KB" || !b0.NextAttempt.Equal(later) || b0.Attempts != 1 || b0.ClaimToken <= bs[0].ClaimToken {
		t.Fatalf("keyed row requeued as %+v: want RETRY_WAIT in doubt, key KB, due %v, attempt 1, token bumped", b0, later)
	}
	wantRow(t, b1, herald.RecipientPending, "")
	if b1.Attempts != 0 || b1.BatchKey != "" || b1.InDoubt {
		t.Fatalf("unkeyed row requeued as %+v: want PENDING, attempt uncounted, no key", b1)
	}
	for _, r := range as {
		wantRow(t, reread(t, s, r), herald.RecipientSending, "")
	}

	// b's late write after it was requeued changes nothing.
	record(t, s, outcome(bs[0], herald.RecipientAccepted, later))
	wantRow(t, reread(t, s, bs[0]), herald.RecipientRetryWait, "")

	// a dies too.
	end := later.Add(time.Minute)
	if n := must(s.RequeueAbandoned(ctx(t), end, later.Add(time.Second), 100))(t); n != 3 {
		t.Fatalf("requeued %d of a's rows, want 3", n)
	}
	for _, r := range as[:2] {
		got := reread(t, s, r)
		wantRow(t, got, herald.RecipientRetryWait, "")
		if !got.InDoubt || got.BatchKey != "KA" || !got.SentAt.Equal(epoch) {
			t.Fatalf("keyed row requeued as %+v: want in doubt under KA", got)
		}
	}
	wantRow(t, reread(t, s, as[2]), herald.RecipientPending, "")
	if n := must(s.RequeueAbandoned(ctx(t), end, end, 100))(t); n != 0 {
		t.Fatalf("requeued %d with nothing SENDING", n)
	}

	// The campaign's claimer picks the in-doubt rows up as resends.
	again := byID(claim(t, s, c, "c", 10, end))
	if len(again) != 6 {
		t.Fatalf("claimed %d, want all 6", len(again))
	}
	for id, key := range map[int64]string{as[0].ID: "KA", as[1].ID: "KA", bs[0].ID: "KB"} {
		got := again[id]
		if got.BatchKey != key || got.Attempts != 1 || got.Resends != 1 || !got.InDoubt {
			t.Fatalf("resend claim %+v: want key %s kept, attempt 1, resend 1, in doubt", got, key)
		}
	}
	for _, r := range []herald.Recipient{as[2], bs[1], ghost} {
		if got := again[r.ID]; got.BatchKey != "" || got.Attempts != 1 || got.Resends != 0 || got.InDoubt {
			t.Fatalf("claim %+v: want a plain first attempt", got)
		}
	}
}

// testHeartbeatForgets: an owner silent for over an hour is forgotten, as
// if it never heartbeat.
func testHeartbeatForgets(t *testing.T, s herald.Store) {
	c := running(t, s, 1)
	r := claim(t, s, c, "old", 1, epoch)[0]
	must(0, s.Heartbeat(ctx(t), "old", epoch))(t)
	if n := must(s.RequeueAbandoned(ctx(t), epoch, epoch.Add(-time.Minute), 10))(t); n != 0 {
		t.Fatalf("requeued %d rows of a live owner", n)
	}
	must(0, s.Heartbeat(ctx(t), "other", epoch.Add(2*time.Hour)))(t)
	// deadBefore is before old's last heartbeat: only forgetting requeues it.
	if n := must(s.RequeueAbandoned(ctx(t), epoch.Add(2*time.Hour), epoch.Add(-time.Minute), 10))(t); n != 1 {
		t.Fatalf("requeued %d, want the forgotten owner's row", n)
	}
	wantRow(t, reread(t, s, r), herald.RecipientPending, "")
}

// frozenBatch is a request with every field set to something that a lossy
// encoding would change.
func frozenBatch(key string, rs []herald.Recipient) herald.SendBatch {
	b := herald.SendBatch{
		SenderKey:    "sk-\u00e9-🔑",
		TemplateCode: "ORDER",
		Title:        "주문 안내 📦 <b>&amp;</b>",
		Buttons: []herald.Button{
			{Type: "WL", Name: "배송조회 🚚", URLMobile: "https://example.com/t?a=1&b=<2>", URLPC: "https://example.com/pc"},
			{Type: "AL", Name: "앱", SchemeIOS: "app://x", SchemeAndroid: "intent://y"},
			{Type: "BC", Name: "상담", ChatExtra: `{"k":"v"}`, ChatEvent: "ev", PluginID: "p-1", TelNumber: "1588-0000"},
		},
		Ref:             "camp-1 \"ref\"",
		IdempotencyKey:  key,
		IdempotencyTTL:  36*time.Hour + 1234567891*time.Nanosecond,
		ProviderRenders: true,
	}
	for i, r := range rs {
		d := herald.Destination{To: r.Phone, MessageID: r.MessageID,
			Text: fmt.Sprintf("김민준님, 주문하신 상품이 발송되었습니다. 🎉\n\t\"%d\" \\ \u2028 끝", i)}
		switch i % 3 {
		case 0:
			d.ReplaceWords = map[string]string{"name": "김민준", "emoji": "😀👍🏽", "empty": "", "html": "<&>"}
			d.FallbackKind, d.FallbackText, d.FallbackFrom = "LMS", "[Web발신]\n김민준님 🎉", "0215880000"
		case 1:
			d.ReplaceWords = map[string]string{} // empty, not nil
			d.FallbackKind, d.FallbackText, d.FallbackFrom = "SMS", "짧은 문자", "01000000000"
		}
		b.Destinations = append(b.Destinations, d)
	}
	return b
}

// testFrozenRequests: a frozen request reads back exactly, and a resend
// under the same key keeps the first body.
func testFrozenRequests(t *testing.T, s herald.Store) {
	c := running(t, s, 4)
	rs := claim(t, s, c, "w", 4, epoch)
	key := "hkey-" + s.InstanceID() + "-1"
	first := herald.SentRequest{Batch: frozenBatch(key, rs[:3]), Claims: claimsOf(rs[:3]...), At: epoch}
	other := sentRequest("K-other", epoch, rs[3])
	mark(t, s, "w", first, other)
	got := must(s.Requests(ctx(t), []string{key, "K-other", "missing"}))(t)
	if len(got) != 2 {
		t.Fatalf("requests = %d, want 2 (unknown keys absent)", len(got))
	}
	if !reflect.DeepEqual(got[key], first.Batch) {
		t.Fatalf("request read back as\n%#v\nwant\n%#v", got[key], first.Batch)
	}
	if !reflect.DeepEqual(got["K-other"], other.Batch) {
		t.Fatalf("request read back as\n%#v\nwant\n%#v", got["K-other"], other.Batch)
	}
	for _, r := range rs[:3] {
		if got := reread(t, s, r); got.BatchKey != key || !got.SentAt.Equal(epoch) {
			t.Fatalf("marked row %+v, want key %s sent at %v", got, key, epoch)
		}
	}
	if got := must(s.Requests(ctx(t), nil))(t); len(got) != 0 {
		t.Fatalf("requests of no keys = %+v", got)
	}

	// The send is in doubt; the resend claim marks the same key again with
	// whatever the caller built, and the stored body stays the first one.
	next := epoch.Add(time.Second)
	record(t, s, retry(rs[0], true, next, epoch), retry(rs[1], true, next, epoch), retry(rs[2], true, next, epoch))
	again := claim(t, s, c, "w2", 3, next)
	if len(again) != 3 {
		t.Fatalf("resend claim got %d rows, want 3", len(again))
	}
	changed := frozenBatch(key, again)
	changed.Title = "something else"
	resendAt := next.Add(time.Second)
	mark(t, s, "w2", herald.SentRequest{Batch: changed, Claims: claimsOf(again...), At: resendAt})
	if got := must(s.Requests(ctx(t), []string{key}))(t); !reflect.DeepEqual(got[key], first.Batch) {
		t.Fatalf("after a resend the request reads\n%#v\nwant the first\n%#v", got[key], first.Batch)
	}
	for _, r := range again {
		if got := reread(t, s, r); got.BatchKey != key || !got.SentAt.Equal(resendAt) {
			t.Fatalf("resent row %+v, want key %s sent at %v", got, key, resendAt)
		}
	}
}

// testMarkBatchesAllOrNothing: one stale row refuses the whole call.
func testMarkBatchesAllOrNothing(t *testing.T, s herald.Store) {
	c := running(t, s, 3)
	rs := claim(t, s, c, "w", 3, epoch)
	stale := rs[2]
	stale.ClaimToken++
	err := s.MarkBatches(ctx(t), "w", []herald.SentRequest{
		sentRequest("K1", epoch, rs[0]), sentRequest("K2", epoch, rs[1], stale),
	})
	wantErr(t, err, herald.ErrConflict)
	err = s.MarkBatches(ctx(t), "thief", []herald.SentRequest{sentRequest("K3", epoch, rs[2])})
	wantErr(t, err, herald.ErrConflict)
	if got := must(s.Requests(ctx(t), []string{"K1", "K2", "K3"}))(t); len(got) != 0 {
		t.Fatalf("refused calls stored requests: %+v", got)
	}
	for _, r := range rowsOf(t, s, c) {
		if r.BatchKey != "" || !r.SentAt.IsZero() {
			t.Fatalf("refused calls marked %+v", r)
		}
	}
	mark(t, s, "w", sentRequest("K1", epoch, rs[0]), sentRequest("K2", epoch, rs[1], rs[2]))
	if got := must(s.Requests(ctx(t), []string{"K1", "K2"}))(t); len(got) != 2 {
		t.Fatalf("requests = %+v, want K1 and K2", got)
	}
	// A row that is no longer SENDING cannot be marked either.
	record(t, s, outcome(rs[0], herald.RecipientAccepted, epoch))
	err = s.MarkBatches(ctx(t), "w", []herald.SentRequest{sentRequest("K4", epoch, rs[0])})
	wantErr(t, err, herald.ErrConflict)
}

// testInDoubtSurvives: RETRY_WAIT in doubt keeps the key and the next claim
// is a resend; RETRY_WAIT not in doubt clears it and counts an attempt.
func testInDoubtSurvives(t *testing.T, s herald.Store) {
	c := running(t, s, 2)
	rs := claim(t, s, c, "w", 2, epoch)
	mark(t, s, "w", sentRequest("K1", epoch, rs[0]), sentRequest("K2", epoch, rs[1]))
	next := epoch.Add(5 * time.Second)
	record(t, s, retry(rs[0], true, next, epoch), retry(rs[1], false, next, epoch))
	r0, r1 := reread(t, s, rs[0]), reread(t, s, rs[1])
	wantRow(t, r0, herald.RecipientRetryWait, "E999")
	if r0.BatchKey != "K1" || !r0.InDoubt || !r0.SentAt.Equal(epoch) || !r0.NextAttempt.Equal(next) {
		t.Fatalf("in doubt row %+v: want key K1 kept, in doubt, due %v", r0, next)
	}
	wantRow(t, r1, herald.RecipientRetryWait, "A020")
	if r1.BatchKey != "" || !r1.SentAt.IsZero() || r1.InDoubt {
		t.Fatalf("refused row %+v: want key and sent_at cleared, not in doubt", r1)
	}

	again := byID(claim(t, s, c, "w", 2, next))
	a0, a1 := again[rs[0].ID], again[rs[1].ID]
	if a0.BatchKey != "K1" || !a0.SentAt.Equal(epoch) || a0.Attempts != 1 || a0.Resends != 1 || !a0.InDoubt ||
		a0.MessageID != rs[0].MessageID || a0.ClaimToken <= rs[0].ClaimToken {
		t.Fatalf("resend claim %+v: want key K1 kept, attempt 1, resend 1, in doubt, same message id", a0)
	}
	if a1.BatchKey != "" || a1.Attempts != 2 || a1.Resends != 0 || a1.InDoubt || a1.MessageID != rs[1].MessageID {
		t.Fatalf("retry claim %+v: want no key, attempt 2, no resend", a1)
	}
	// Another round in doubt counts another resend, never an attempt.
	next2 := next.Add(5 * time.Second)
	mark(t, s, "w", sentRequest("K1", next, a0))
	record(t, s, retry(a0, true, next2, next))
	a0 = claim(t, s, c, "w", 1, next2)[0]
	if a0.ID != rs[0].ID || a0.BatchKey != "K1" || a0.Attempts != 1 || a0.Resends != 2 || !a0.InDoubt {
		t.Fatalf("second resend claim %+v: want attempt 1, resend 2", a0)
	}
	// ListRecipients shows the same fields.
	if got := reread(t, s, a0); got.Resends != 2 || !got.InDoubt || got.ClaimToken != a0.ClaimToken {
		t.Fatalf("listed %+v, claimed %+v", got, a0)
	}
}

// testInDoubtForGood: once in doubt, a row is never given a new key, even
// by a RETRY_WAIT update that does not say in doubt (a refused resend
// proves nothing about the first send).
func testInDoubtForGood(t *testing.T, s herald.Store) {
	c := running(t, s, 1)
	r := claim(t, s, c, "w", 1, epoch)[0]
	mark(t, s, "w", sentRequest("K1", epoch, r))
	record(t, s, retry(r, true, epoch, epoch))
	r = claim(t, s, c, "w", 1, epoch)[0]
	mark(t, s, "w", sentRequest("K1", epoch, r))
	record(t, s, retry(r, false, epoch, epoch))
	got := reread(t, s, r)
	wantRow(t, got, herald.RecipientRetryWait, "")
	if got.BatchKey != "K1" || !got.InDoubt {
		t.Fatalf("row %+v: want still in doubt under K1", got)
	}
	got = claim(t, s, c, "w", 1, epoch)[0]
	if got.BatchKey != "K1" || got.Attempts != 1 || got.Resends != 2 {
		t.Fatalf("claim %+v: want a resend under K1", got)
	}
}

// testReleaseInDoubt: a released in-doubt row waits, due at once, with its
// key, and its resend is uncounted.
func testReleaseInDoubt(t *testing.T, s herald.Store) {
	c := running(t, s, 2)
	rs := claim(t, s, c, "w", 2, epoch)
	mark(t, s, "w", sentRequest("K1", epoch, rs[0]))
	record(t, s, retry(rs[0], true, epoch.Add(time.Second), epoch))
	release(t, s, "w", epoch, rs[1])
	again := byID(claim(t, s, c, "w", 2, epoch.Add(time.Second)))
	at := epoch.Add(2 * time.Second)
	release(t, s, "w", at, again[rs[0].ID], again[rs[1].ID])
	r0, r1 := reread(t, s, rs[0]), reread(t, s, rs[1])
	wantRow(t, r0, herald.RecipientRetryWait, "")
	if r0.BatchKey != "K1" || !r0.InDoubt || !r0.NextAttempt.Equal(at) || r0.Attempts != 1 || r0.Resends != 0 {
		t.Fatalf("released in-doubt row %+v: want RETRY_WAIT due %v under K1, attempt 1, resend uncounted", r0, at)
	}
	wantRow(t, r1, herald.RecipientPending, "")
	if r1.BatchKey != "" || r1.Attempts != 0 {
		t.Fatalf("released row %+v: want PENDING, attempt uncounted", r1)
	}
	// It is claimable at once, as a resend.
	if got := byID(claim(t, s, c, "w", 2, at)); got[rs[0].ID].Resends != 1 || got[rs[0].ID].BatchKey != "K1" {
		t.Fatalf("claim after release = %+v", got)
	}
}

// inDoubtSetup brings a 9-row campaign to: row 0 RETRY_WAIT in doubt (not
// due), row 1 RETRY_WAIT refused (not due), rows 2, 4, 5, 6 SENDING in a
// first claim (4, 5, 6 marked), rows 3 and 7 SENDING in a resend claim,
// row 8 PENDING. It returns the rows by index, as last claimed.
func inDoubtSetup(t *testing.T, s herald.Store) (herald.Campaign, []herald.Recipient) {
	t.Helper()
	c := running(t, s, 9)
	rs := claim(t, s, c, "w", 8, epoch)
	byIDs := byID(rs)
	if len(byIDs) != 8 {
		t.Fatalf("claimed %d, want 8", len(byIDs))
	}
	all := must(s.ListRecipients(ctx(t), c.ID, 0, 9))(t)
	rows := make([]herald.Recipient, 9)
	for i, r := range all {
		rows[i] = r
		if cl, ok := byIDs[r.ID]; ok {
			rows[i] = cl
		}
	}
	mark(t, s, "w", sentRequest("K0", epoch, rows[0]), sentRequest("K3", epoch, rows[3]),
		sentRequest("K7", epoch, rows[7]), sentRequest("K456", epoch, rows[4], rows[5], rows[6]))
	soon, late := epoch.Add(time.Second), epoch.Add(time.Hour)
	record(t, s, retry(rows[0], true, late, epoch), retry(rows[1], false, late, epoch),
		retry(rows[3], true, soon, epoch), retry(rows[7], true, soon, epoch))
	resent := byID(claim(t, s, c, "w", 2, soon))
	if len(resent) != 2 || resent[rows[3].ID].BatchKey != "K3" || resent[rows[7].ID].BatchKey != "K7" {
		t.Fatalf("resend claim = %+v, want rows 3 and 7 under their keys", resent)
	}
	rows[3], rows[7] = resent[rows[3].ID], resent[rows[7].ID]
	return c, rows
}

// settleInFlight gives back or records every row still SENDING after the
// campaign stopped, as the dispatcher does.
func settleInFlight(t *testing.T, s herald.Store, rows []herald.Recipient, at time.Time) {
	t.Helper()
	release(t, s, "w", at, rows[2], rows[3])
	accepted := outcome(rows[6], herald.RecipientAccepted, at)
	accepted.MsgKey = "MK6"
	record(t, s, retry(rows[4], false, at, at), retry(rows[5], true, at, at), accepted,
		retry(rows[7], false, at, at)) // row 7 is in doubt whatever the update says
}

// wantNothingWaits checks that no row waits for a send and counts add up.
func wantNothingWaits(t *testing.T, s herald.Store, c herald.Campaign, want map[herald.RecipientState]int) {
	t.Helper()
	cc := must(s.GetCampaign(ctx(t), c.ID))(t)
	want[herald.RecipientPending], want[herald.RecipientSending], want[herald.RecipientRetryWait] = 0, 0, 0
	checkCounts(t, cc, want)
	sum := 0
	for _, n := range want {
		sum += n
	}
	if cc.Total != sum {
		t.Fatalf("total %d, want %d (counts %v)", cc.Total, sum, cc.Counts)
	}
	if done := must(s.CompleteCampaign(ctx(t), c.ID, epoch))(t); done {
		t.Fatal("completed a campaign that had ended otherwise")
	}
}

// testCancelStrandsNothing: cancelling, then giving back and recording what
// was in flight, leaves every row settled; what may have been taken is
// UNKNOWN, never CANCELLED.
func testCancelStrandsNothing(t *testing.T, s herald.Store) {
	c, rows := inDoubtSetup(t, s)
	at := epoch.Add(2 * time.Second)
	cc := must(s.TransitionCampaign(ctx(t), c.ID, herald.CampaignCancelled, at))(t)
	checkCounts(t, cc, map[herald.RecipientState]int{
		herald.RecipientCancelled: 2, herald.RecipientUnknown: 1, herald.RecipientSending: 6,
	})
	settleInFlight(t, s, rows, at)
	wantNothingWaits(t, s, c, map[herald.RecipientState]int{
		herald.RecipientUnknown: 4, herald.RecipientCancelled: 4, herald.RecipientAccepted: 1,
	})
	got := rowsOf(t, s, c)
	for i, want := range []herald.RecipientState{
		herald.RecipientUnknown, herald.RecipientCancelled, herald.RecipientCancelled, herald.RecipientUnknown,
		herald.RecipientCancelled, herald.RecipientUnknown, herald.RecipientAccepted, herald.RecipientUnknown,
		herald.RecipientCancelled,
	} {
		code := ""
		if want == herald.RecipientUnknown {
			code = codeInDoubt
		}
		wantRow(t, got[rows[i].ID], want, code)
		if want == herald.RecipientUnknown && got[rows[i].ID].ResultText == "" {
			t.Fatalf("row %d UNKNOWN without an explanation: %+v", i, got[rows[i].ID])
		}
	}
	if got[rows[6].ID].MsgKey != "MK6" {
		t.Fatalf("accepted row %+v lost its msgKey", got[rows[6].ID])
	}
}

// testCancelSettlesInDoubt: cancel alone settles waiting rows, in doubt as
// UNKNOWN, and clears a reason left by a halt.
func testCancelSettlesInDoubt(t *testing.T, s herald.Store) {
	c := running(t, s, 3)
	rs := claim(t, s, c, "w", 2, epoch)
	mark(t, s, "w", sentRequest("K0", epoch, rs[0]))
	record(t, s, retry(rs[0], true, epoch, epoch), retry(rs[1], false, epoch, epoch))
	must(s.HaltCampaign(ctx(t), c.ID, herald.CampaignPaused, "breaker", epoch))(t)
	cc := must(s.TransitionCampaign(ctx(t), c.ID, herald.CampaignCancelled, epoch))(t)
	if cc.Reason != "" {
		t.Fatalf("reason %q survived a cancel", cc.Reason)
	}
	checkCounts(t, cc, map[herald.RecipientState]int{herald.RecipientUnknown: 1, herald.RecipientCancelled: 2})
	wantRow(t, reread(t, s, rs[0]), herald.RecipientUnknown, codeInDoubt)
}

// testHaltPaused: the reason is stored and shown, and resume clears it.
func testHaltPaused(t *testing.T, s herald.Store) {
	c := running(t, s, 2)
	rs := claim(t, s, c, "w", 1, epoch)
	const reason = "계정 거절: A101 unknown sender key"
	got := must(s.HaltCampaign(ctx(t), c.ID, herald.CampaignPaused, reason, epoch.Add(time.Second)))(t)
	if got.State != herald.CampaignPaused || got.Reason != reason || !got.UpdatedAt.Equal(epoch.Add(time.Second)) {
		t.Fatalf("halted = %+v, want paused with the reason", got)
	}
	checkCounts(t, got, map[herald.RecipientState]int{herald.RecipientPending: 1, herald.RecipientSending: 1})
	if g := must(s.GetCampaign(ctx(t), c.ID))(t); g.Reason != reason {
		t.Fatalf("GetCampaign reason = %q", g.Reason)
	}
	if list := must(s.ListCampaigns(ctx(t)))(t); len(list) != 1 || list[0].Reason != reason {
		t.Fatalf("ListCampaigns = %+v", list)
	}
	if more := claim(t, s, c, "w", 10, epoch); len(more) != 0 {
		t.Fatalf("claimed %d from a halted campaign", len(more))
	}
	// A paused campaign's unsent rows go back to wait for the resume.
	release(t, s, "w", epoch, rs[0])
	checkCounts(t, must(s.GetCampaign(ctx(t), c.ID))(t), map[herald.RecipientState]int{herald.RecipientPending: 2})

	// Invalid targets and impossible moves.
	for _, to := range []herald.CampaignState{herald.CampaignCancelled, herald.CampaignCompleted, herald.CampaignRunning, herald.CampaignScheduled} {
		_, err := s.HaltCampaign(ctx(t), c.ID, to, "x", epoch)
		wantInvalid(t, err)
	}
	_, err := s.HaltCampaign(ctx(t), c.ID, herald.CampaignPaused, "again", epoch)
	wantErr(t, err, herald.ErrConflict)
	_, err = s.HaltCampaign(ctx(t), 424242, herald.CampaignPaused, "x", epoch)
	wantErr(t, err, herald.ErrNotFound)

	resumed := must(s.TransitionCampaign(ctx(t), c.ID, herald.CampaignRunning, epoch))(t)
	if resumed.State != herald.CampaignRunning || resumed.Reason != "" {
		t.Fatalf("resumed = %+v, want running without a reason", resumed)
	}
	if list := must(s.RunningCampaigns(ctx(t)))(t); len(list) != 1 || list[0].Reason != "" {
		t.Fatalf("RunningCampaigns = %+v", list)
	}
	// Halting a running campaign: RunningCampaigns shows the reason only
	// while running, so halt to paused and check the list is empty.
	must(s.HaltCampaign(ctx(t), c.ID, herald.CampaignPaused, "breaker", epoch))(t)
	if list := must(s.RunningCampaigns(ctx(t)))(t); len(list) != 0 {
		t.Fatalf("RunningCampaigns after halt = %+v", list)
	}
}

// testHaltFailed: failing a campaign settles everything not claimed, and
// what was in flight settles when given back or recorded.
func testHaltFailed(t *testing.T, s herald.Store) {
	c, rows := inDoubtSetup(t, s)
	const reason = "template ORDER is no longer approved"
	at := epoch.Add(2 * time.Second)
	cc := must(s.HaltCampaign(ctx(t), c.ID, herald.CampaignFailed, reason, at))(t)
	if cc.State != herald.CampaignFailed || cc.Reason != reason {
		t.Fatalf("halted = %+v, want failed with the reason", cc)
	}
	checkCounts(t, cc, map[herald.RecipientState]int{
		herald.RecipientFailed: 2, herald.RecipientUnknown: 1, herald.RecipientSending: 6,
	})
	got := rowsOf(t, s, c)
	for _, i := range []int{1, 8} {
		wantRow(t, got[rows[i].ID], herald.RecipientFailed, codeCampaignFailed)
		if got[rows[i].ID].ResultText != reason {
			t.Fatalf("failed row %+v: want the reason as its text", got[rows[i].ID])
		}
	}
	wantRow(t, got[rows[0].ID], herald.RecipientUnknown, codeInDoubt)

	settleInFlight(t, s, rows, at)
	wantNothingWaits(t, s, c, map[herald.RecipientState]int{
		herald.RecipientUnknown: 4, herald.RecipientFailed: 4, herald.RecipientAccepted: 1,
	})
	got = rowsOf(t, s, c)
	for i, want := range []herald.RecipientState{
		herald.RecipientUnknown, herald.RecipientFailed, herald.RecipientFailed, herald.RecipientUnknown,
		herald.RecipientFailed, herald.RecipientUnknown, herald.RecipientAccepted, herald.RecipientUnknown,
		herald.RecipientFailed,
	} {
		code := ""
		switch want {
		case herald.RecipientUnknown:
			code = codeInDoubt
		case herald.RecipientFailed:
			code = codeCampaignFailed
		}
		wantRow(t, got[rows[i].ID], want, code)
	}
	if g := must(s.GetCampaign(ctx(t), c.ID))(t); g.Reason != reason || g.State != herald.CampaignFailed {
		t.Fatalf("campaign = %+v", g)
	}
	_, err := s.HaltCampaign(ctx(t), c.ID, herald.CampaignPaused, "x", at)
	wantErr(t, err, herald.ErrConflict)
}

// testExpireAccepted: accepted rows past the report retention become
// UNKNOWN (NO_REPORT), a limited number per call.
func testExpireAccepted(t *testing.T, s herald.Store) {
	c := running(t, s, 4)
	got := claim(t, s, c, "w", 4, epoch)
	ups := make([]herald.RecipientUpdate, len(got))
	for i, r := range got {
		ups[i] = outcome(r, herald.RecipientAccepted, epoch.Add(time.Duration(i)*time.Minute))
		ups[i].MsgKey = fmt.Sprint("K", i)
	}
	ups[3].State = herald.RecipientFailed
	record(t, s, ups...)
	now := epoch.Add(72 * time.Hour)
	before := epoch.Add(90 * time.Second)
	if n := must(s.ExpireAccepted(ctx(t), before, now, 1))(t); n != 1 {
		t.Fatalf("expired %d with limit 1", n)
	}
	if n := must(s.ExpireAccepted(ctx(t), before, now, 10))(t); n != 1 {
		t.Fatalf("expired %d, want the second overdue row", n)
	}
	if n := must(s.ExpireAccepted(ctx(t), before, now, 10))(t); n != 0 {
		t.Fatalf("expired %d again", n)
	}
	rows := rowsOf(t, s, c)
	for _, r := range got[:2] {
		e := rows[r.ID]
		wantRow(t, e, herald.RecipientUnknown, codeNoReport)
		if e.ResultText == "" || !e.UpdatedAt.Equal(now) || e.MsgKey == "" {
			t.Fatalf("expired row %+v: want a text, updated at %v, msgKey kept", e, now)
		}
	}
	wantRow(t, rows[got[2].ID], herald.RecipientAccepted, "")
	wantRow(t, rows[got[3].ID], herald.RecipientFailed, "")
	if left := must(s.AcceptedWithoutReport(ctx(t), now, 0, 10))(t); len(left) != 1 || left[0].ID != got[2].ID {
		t.Fatalf("accepted without report = %+v, want only row 2", left)
	}
}

var instanceIDPattern = regexp.MustCompile(`^[a-z0-9]{6}$`)

// testInstanceID: six base36 characters, in every message id, different
// per database.
func testInstanceID(t *testing.T, s herald.Store, newStore NewStore) {
	id := s.InstanceID()
	if !instanceIDPattern.MatchString(id) {
		t.Fatalf("instance id %q, want 6 of [a-z0-9]", id)
	}
	if again := s.InstanceID(); again != id {
		t.Fatalf("instance id changed from %q to %q", id, again)
	}
	c := running(t, s, 2)
	for _, r := range claim(t, s, c, "w", 2, epoch) {
		if want := fmt.Sprintf("h%s-%d-%d", id, c.ID, r.ID); r.MessageID != want {
			t.Fatalf("message id %q, want %q", r.MessageID, want)
		}
	}
	if other := newStore(t).InstanceID(); other == id {
		t.Fatalf("two databases share the instance id %q", id)
	}
}
