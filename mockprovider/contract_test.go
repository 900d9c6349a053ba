package mockprovider_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/mockprovider"
)

// The contract tests run the real client against the real mock over
// loopback HTTP: every outcome class the client can return, produced by
// the provider behaviour that causes it.

func assertKinds(t *testing.T, got []herald.Outcome, want herald.OutcomeKind, code string) {
	t.Helper()
	for i, o := range got {
		if o.Kind != want || (code != "" && o.Code != code) {
			t.Fatalf("outcome %d = %+v, want %v %s", i, o, want, code)
		}
	}
}

func TestSendAccepted(t *testing.T) {
	t.Parallel()
	m := startMock(t, nil)
	out := newClient(t, m.url).Send(t.Context(), keyed(3, 0, "k1"))
	assertKinds(t, out, herald.Accepted, infobank.CodeSuccess)
	for _, o := range out {
		if len(o.MsgKey) != 32 || o.Duplicate {
			t.Errorf("outcome %+v: want a 32-character msgKey, not a duplicate", o)
		}
	}
	if st := m.Stats(); st.Accepted != 3 || st.Requests != 1 || st.UniqueRefs != 3 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSendBatchOf200AndOversize(t *testing.T) {
	t.Parallel()
	m := startMock(t, nil)
	c := newClient(t, m.url)
	assertKinds(t, c.Send(t.Context(), keyed(200, 0, "full")), herald.Accepted, infobank.CodeSuccess)
	out := c.Send(t.Context(), keyed(201, 1000, "over"))
	if len(out) != 201 {
		t.Fatalf("%d outcomes for 201 destinations", len(out))
	}
	assertKinds(t, out, herald.RefusedPermanent, infobank.CodeTooMany)
	if st := m.Stats(); st.Accepted != 200 {
		t.Errorf("accepted = %d, want 200", st.Accepted)
	}
}

func TestSendRateLimited(t *testing.T) {
	t.Parallel()
	m := startMock(t, func(c *mockprovider.Config) { c.TPS = 2 })
	assertKinds(t, newClient(t, m.url).Send(t.Context(), keyed(3, 0, "k")), herald.RefusedRetryable, infobank.CodeRateLimited)
	if st := m.Stats(); st.Accepted != 0 || st.RefusedRateLimit != 3 || st.RateLimitedRequests != 1 {
		t.Errorf("stats = %+v", st)
	}
}

// A 503 cannot prove it came before acceptance, so the client calls it in
// doubt; the mock's refuse-before took nothing, so a resend under the same
// key is simply accepted: nothing lost, nothing twice.
func TestSend503IsInDoubtAndSafeToResend(t *testing.T) {
	t.Parallel()
	m := startMock(t, func(c *mockprovider.Config) { c.RefuseRate = 1 })
	c := newClient(t, m.url)
	assertKinds(t, c.Send(t.Context(), keyed(2, 0, "k")), herald.InDoubt, infobank.CodeBusy)
	if st := m.Stats(); st.Accepted != 0 || st.RefusedOther != 2 {
		t.Errorf("stats = %+v", st)
	}

	// Half the requests refused: resending the same batch under the same key
	// until it is taken delivers each recipient exactly once.
	m = startMock(t, func(c *mockprovider.Config) { c.RefuseRate, c.Seed = 0.5, 3 })
	c = newClient(t, m.url)
	for range 50 {
		if out := c.Send(t.Context(), keyed(2, 0, "k")); out[0].Kind == herald.Accepted {
			break
		}
	}
	if st := m.Stats(); st.Accepted != 2 || st.DuplicateRefs != 0 || st.RefusedOther == 0 {
		t.Errorf("after resends under one key: %+v", st)
	}
}

func TestSendConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	out := newClient(t, "http://"+addr).Send(t.Context(), keyed(2, 0, "k"))
	assertKinds(t, out, herald.RefusedRetryable, infobank.OutcomeNotSent)
}

func TestSendCancelledBeforeSending(t *testing.T) {
	t.Parallel()
	m := startMock(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assertKinds(t, newClient(t, m.url).Send(ctx, keyed(1, 0, "k")), herald.RefusedRetryable, infobank.OutcomeNotSent)
}

func TestSendRefusedPermanently(t *testing.T) {
	t.Parallel()
	m := startMock(t, func(c *mockprovider.Config) {
		c.Templates = []herald.Template{{Code: "ORDER", Text: "Your order #{what}."}}
	})
	c := newClient(t, m.url)

	noSender := keyed(1, 0, "a")
	noSender.SenderKey = ""
	// A missing sender key or an unapproved template is the account's
	// fault, not the recipient's: the campaign pauses.
	assertKinds(t, c.Send(t.Context(), noSender), herald.RefusedAccount, infobank.CodeBadSenderKey)

	unknown := keyed(1, 0, "b")
	unknown.TemplateCode = "NOPE"
	assertKinds(t, c.Send(t.Context(), unknown), herald.RefusedAccount, infobank.CodeBadTemplate)

	mixed := keyed(2, 0, "c")
	mixed.Destinations[1].To = "0212345678" // a landline
	out := c.Send(t.Context(), mixed)
	if out[0].Kind != herald.Accepted || out[1].Kind != herald.RefusedPermanent || out[1].Code != infobank.CodeBadTo {
		t.Errorf("outcomes = %+v", out)
	}
	badFallback := keyed(1, 5, "d")
	badFallback.Destinations[0].FallbackKind = "FAX"
	assertKinds(t, c.Send(t.Context(), badFallback), herald.RefusedPermanent, infobank.OutcomeInvalid)
	if st := m.Stats(); st.Accepted != 1 || st.BadRequests != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSendBadAPIKey(t *testing.T) {
	t.Parallel()
	m := startMock(t, nil)
	c := newClient(t, m.url, func(c *infobank.Config) { c.APIKey = "Bearer " + testKey })
	assertKinds(t, c.Send(t.Context(), keyed(1, 0, "k")), herald.RefusedAccount, infobank.CodeUnauthorized)
	if _, err := c.Inquire(t.Context(), "K"); err == nil {
		t.Error("inquiry with a bad key succeeded")
	}
	if st := m.Stats(); st.Unauthorized != 1 || st.Accepted != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSendFailedAfterAcceptIsInDoubt(t *testing.T) {
	t.Parallel()
	m := startMock(t, func(c *mockprovider.Config) { c.FailAfterAcceptRate = 1 })
	assertKinds(t, newClient(t, m.url).Send(t.Context(), keyed(2, 0, "k")), herald.InDoubt, infobank.CodeInternal)
	if st := m.Stats(); st.Accepted != 2 || st.FailedAfterAccept != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSendHangIsInDoubt(t *testing.T) {
	t.Parallel()
	m := startMock(t, func(c *mockprovider.Config) { c.HangRate = 1 })
	c := newClient(t, m.url, func(c *infobank.Config) { c.Timeout = 200 * time.Millisecond })
	assertKinds(t, c.Send(t.Context(), keyed(1, 0, "k")), herald.InDoubt, infobank.OutcomeTimeout)
	if st := m.Stats(); st.Accepted != 1 || st.Hung != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSendReplayIsDuplicateNotDelivered(t *testing.T) {
	t.Parallel()
	m := startMock(t, nil)
	c := newClient(t, m.url)
	first := c.Send(t.Context(), keyed(3, 0, "same-key"))
	again := c.Send(t.Context(), keyed(3, 0, "same-key"))
	assertKinds(t, again, herald.Accepted, infobank.CodeDuplicate)
	for i := range again {
		if !again[i].Duplicate || again[i].MsgKey != first[i].MsgKey {
			t.Errorf("replay %d = %+v, first = %+v", i, again[i], first[i])
		}
	}
	st := m.Stats()
	if st.Accepted != 3 || st.Replayed != 3 || st.DuplicateRecipients != 0 || st.DuplicateRefs != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSendPersonalisedTextsSplitWithStableKeys(t *testing.T) {
	t.Parallel()
	m := startMock(t, nil)
	c := newClient(t, m.url)
	b := keyed(4, 0, "batch-7")
	b.Destinations[1].Text = "Your order shipped, Kim."
	b.Destinations[3].Text = "Your order shipped, Lee."
	first := c.Send(t.Context(), b)
	assertKinds(t, first, herald.Accepted, infobank.CodeSuccess)
	if st := m.Stats(); st.Requests != 3 || st.Accepted != 4 {
		t.Errorf("stats after the first send = %+v", st)
	}
	again := c.Send(t.Context(), b)
	for i := range again {
		if !again[i].Duplicate || again[i].MsgKey != first[i].MsgKey {
			t.Errorf("replay %d = %+v, first = %+v", i, again[i], first[i])
		}
	}
	if st := m.Stats(); st.Accepted != 4 || st.DuplicateRecipients != 0 {
		t.Errorf("stats after the replay = %+v", st)
	}
}

func TestInquireAndPoll(t *testing.T) {
	t.Parallel()
	now := time.Now()
	clock := func() time.Time { return now }
	m := startMock(t, func(c *mockprovider.Config) {
		c.Reports, c.ReportDelay, c.Now = mockprovider.ReportsPolling, 0, clock
		c.NotUserRate = 1
	})
	c := newClient(t, m.url)
	b := keyed(2, 0, "k")
	b.Destinations[0].FallbackKind, b.Destinations[0].FallbackFrom, b.Destinations[0].FallbackText = "SMS", "0212345678", "shipped"
	out := c.Send(t.Context(), b)
	reports, err := c.Inquire(t.Context(), out[0].MsgKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 2 || reports[0].Code != "63019" || !reports[1].Fallback() || !reports[1].Delivered() ||
		reports[0].Ref != "m-0" || reports[1].MsgKey != out[0].MsgKey {
		t.Errorf("reports = %+v", reports)
	}
	polled, err := c.Poll(t.Context())
	if err != nil || polled.ReportID == "" || len(polled.Reports) != 3 {
		t.Fatalf("poll = %+v, %v", polled, err)
	}
	again, err := c.Poll(t.Context())
	if err != nil || again.ReportID != polled.ReportID || len(again.Reports) != 3 {
		t.Fatalf("an unacknowledged batch must come back: %+v, %v", again, err)
	}
	if err := c.Ack(t.Context(), polled.ReportID); err != nil {
		t.Fatal(err)
	}
	err = c.Ack(t.Context(), polled.ReportID)
	var apiErr *infobank.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusForbidden || apiErr.Code != infobank.CodeBadReportID {
		t.Errorf("a second ack of the same batch = %v, want 403 A802", err)
	}
	if polled, err = c.Poll(t.Context()); err != nil || polled.ReportID != "" || len(polled.Reports) != 0 {
		t.Errorf("poll after ack = %+v, %v", polled, err)
	}
}
