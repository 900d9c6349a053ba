package http_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
)

// sentCampaign makes a campaign of n members, all sent in requests of two
// (frozen, with an SMS fallback on the first) and accepted with msgKeys
// K0…; it returns the campaign and its rows.
func (e *env) sentCampaign(n int) (herald.Campaign, []herald.Recipient) {
	e.t.Helper()
	e.addTemplate(welcome)
	e.addMembers(n)
	var c herald.Campaign
	e.json("POST", "/v1/campaigns", map[string]any{"name": "results", "templateCode": "WELCOME_1",
		"audience": map[string]any{"all": true}, "variables": map[string]string{"shop": "h"}, "tps": 5}).want(e.t, 201, &c)
	e.prepare(c.ID)
	ctx := e.t.Context()
	rs, err := e.store.ClaimRecipients(ctx, herald.ClaimParams{CampaignID: c.ID, Limit: n, Owner: "w", Now: testNow, LeaseUntil: testNow.Add(time.Minute)})
	if err != nil || len(rs) != n {
		e.t.Fatalf("claim: %d rows, %v", len(rs), err)
	}
	var reqs []herald.SentRequest
	for i := 0; i < n; i += 2 {
		part := rs[i:min(i+2, n)]
		b := herald.SendBatch{SenderKey: "sender-key-1", TemplateCode: "WELCOME_1", Title: "쿠폰", Buttons: welcome.Buttons,
			IdempotencyKey: fmt.Sprintf("req-%d", i), Ref: "c1"}
		var claims []herald.Claim
		for _, r := range part {
			d := herald.Destination{To: r.Phone, MessageID: r.MessageID, Text: "=SUM(1) " + r.MemberID + "님, 쿠폰"}
			if i == 0 {
				d.FallbackKind, d.FallbackText, d.FallbackFrom = "SMS", "쿠폰 "+r.MemberID, "0212345678"
			}
			b.Destinations = append(b.Destinations, d)
			claims = append(claims, herald.Claim{ID: r.ID, Token: r.ClaimToken})
		}
		reqs = append(reqs, herald.SentRequest{Batch: b, Claims: claims, At: testNow.Add(time.Second)})
	}
	if err := e.store.MarkBatches(ctx, "w", reqs); err != nil {
		e.t.Fatal(err)
	}
	ups := make([]herald.RecipientUpdate, n)
	for i, r := range rs {
		ups[i] = herald.RecipientUpdate{ID: r.ID, Owner: "w", Token: r.ClaimToken, State: herald.RecipientAccepted,
			MsgKey: fmt.Sprintf("K%d", i), ResultCode: "A000", At: testNow.Add(2 * time.Second)}
	}
	if err := e.store.RecordOutcomes(ctx, ups); err != nil {
		e.t.Fatal(err)
	}
	rs, err = e.store.ListRecipients(ctx, c.ID, 0, n)
	if err != nil {
		e.t.Fatal(err)
	}
	return c, rs
}

func (e *env) report(r herald.Recipient, service, code string, at time.Time) {
	e.t.Helper()
	_, err := e.store.ApplyReports(e.t.Context(), []herald.Report{{MsgKey: r.MsgKey, Ref: r.MessageID, ServiceType: service,
		ReportType: "0", Code: code, Text: "text of " + code, ReportTime: at, Raw: []byte("{}")}}, at)
	if err != nil {
		e.t.Fatal(err)
	}
}

func TestRecipientFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, rs := e.sentCampaign(6)
	at := testNow.Add(time.Minute)
	e.report(rs[0], "ALIMTALK", "63019", at)
	e.report(rs[0], "SMS", herald.ReportDelivered, at.Add(time.Second))
	e.report(rs[1], "ALIMTALK", "63019", at)
	e.report(rs[2], "ALIMTALK", herald.ReportDelivered, at)
	list := func(query string) []string {
		t.Helper()
		var page struct{ Recipients []herald.Recipient }
		e.do("GET", fmt.Sprintf("/v1/campaigns/%d/recipients?%s", c.ID, query), "", nil).want(t, 200, &page)
		var out []string
		for _, r := range page.Recipients {
			out = append(out, r.MemberID)
		}
		return out
	}
	for query, want := range map[string]string{
		"":                           "m0,m1,m2,m3,m4,m5",
		"state=DELIVERED":            "m0,m2",
		"state=failed,accepted":      "m1,m3,m4,m5",
		"state=FAILED&state=SENDING": "m1",
		"code=63019":                 "m1",
		"code=A000":                  "m3,m4,m5",
		"channel=AT":                 "m1,m2",
		"channel=sms":                "m0",
		"phone=010-1000-0004":        "m4",
		"phone=%2B82%2010-1000-0004": "m4",
		"member=m5":                  "m5",
		"member=m5&state=DELIVERED":  "",
		"state=ACCEPTED&limit=2":     "m3,m4",
	} {
		if got := strings.Join(list(query), ","); got != want {
			t.Errorf("?%s: got %s, want %s", query, got, want)
		}
	}
	for query, field := range map[string]string{
		"state=SENT":      "state",
		"channel=KAKAO":   "channel",
		"phone=12345":     "phone",
		"limit=1001":      "limit",
		"after=-1":        "after",
		"state=PENDING,x": "state",
	} {
		e.do("GET", fmt.Sprintf("/v1/campaigns/%d/recipients?%s", c.ID, query), "", nil).wantError(t, 400, "invalid", field)
	}
	// The client speaks the same filters.
	got, next, err := e.client().FindRecipients(t.Context(), herald.RecipientFilter{CampaignID: c.ID,
		States: []herald.RecipientState{herald.RecipientAccepted, herald.RecipientFailed}, Limit: 2})
	if err != nil || len(got) != 2 || got[0].MemberID != "m1" || got[1].MemberID != "m3" || next != got[1].ID {
		t.Fatalf("client page %+v next %d err %v", got, next, err)
	}
	var inv *herald.InvalidError
	if _, _, err := e.client().FindRecipients(t.Context(), herald.RecipientFilter{CampaignID: c.ID, Channel: "FAX", Limit: 2}); !errors.As(err, &inv) || inv.Field != "channel" {
		t.Fatalf("bad channel through the client: %v, want an invalid channel", err)
	}
}

func TestRecipientDetail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, rs := e.sentCampaign(3)
	at := testNow.Add(time.Minute)
	e.report(rs[0], "ALIMTALK", "63019", at)
	e.report(rs[0], "SMS", herald.ReportDelivered, at.Add(time.Second))

	d, err := e.client().GetRecipient(t.Context(), c.ID, rs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	m := d.Message
	if d.Recipient.ID != rs[0].ID || d.Recipient.State != herald.RecipientDelivered || m == nil ||
		m.Key != "req-0" || m.Text != "=SUM(1) m0님, 쿠폰" || m.Title != "쿠폰" || len(m.Buttons) != 1 ||
		m.Fallback == nil || m.Fallback.Kind != "SMS" || m.Fallback.Text != "쿠폰 m0" || m.SendType != "text" ||
		m.Destinations != 2 || m.SenderKey == "sender-key-1" {
		t.Fatalf("detail %+v message %+v: want the frozen request's part for m0, the sender key shortened", d.Recipient, m)
	}
	var events []string
	for _, ev := range d.History {
		events = append(events, ev.Event+" "+ev.Detail)
	}
	want := []string{"created", "sent request req-0", "accepted msgKey K0", "report ALIMTALK 63019", "report SMS 10000", "delivered 10000"}
	if len(events) != len(want) {
		t.Fatalf("history %q, want %d events like %q", events, len(want), want)
	}
	for i, w := range want {
		if !strings.HasPrefix(events[i], w) {
			t.Errorf("history[%d] = %q, want it to start with %q", i, events[i], w)
		}
	}
	// Before anything was sent there is no message, and the JSON says null.
	e2 := newEnv(t)
	e2.addTemplate(welcome)
	e2.addMembers(1)
	var c2 herald.Campaign
	e2.json("POST", "/v1/campaigns", map[string]any{"name": "x", "templateCode": "WELCOME_1",
		"audience": map[string]any{"all": true}, "variables": map[string]string{"shop": "h"}, "tps": 5}).want(t, 201, &c2)
	e2.prepare(c2.ID)
	pending, _ := e2.store.ListRecipients(t.Context(), c2.ID, 0, 1)
	r := e2.do("GET", fmt.Sprintf("/v1/campaigns/%d/recipients/%d", c2.ID, pending[0].ID), "", nil)
	if r.want(t, 200, nil); !bytes.Contains(r.body, []byte(`"message":null`)) {
		t.Fatalf("unsent recipient: %s, want message null", r.body)
	}

	e.do("GET", fmt.Sprintf("/v1/campaigns/%d/recipients/%d", c.ID, rs[2].ID+100), "", nil).wantError(t, 404, "not_found", "")
	e.do("GET", fmt.Sprintf("/v1/campaigns/%d/recipients/%d", c.ID+1, rs[0].ID), "", nil).wantError(t, 404, "not_found", "")
	e.do("GET", fmt.Sprintf("/v1/campaigns/%d/recipients/x", c.ID), "", nil).wantError(t, 400, "invalid", "rid")
}

func TestRecipientsCSV(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *heraldhttp.ServerConfig) { c.ExportPageSize = 20 })
	const n = 41 // three export pages
	c, rs := e.sentCampaign(n)
	e.report(rs[0], "ALIMTALK", "63019", testNow.Add(time.Minute))
	e.report(rs[0], "SMS", herald.ReportDelivered, testNow.Add(time.Minute))

	body, err := e.client().ExportRecipients(t.Context(), c.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	rows, err := csv.NewReader(body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != n+1 || strings.Join(rows[0], ",") !=
		"id,member_id,phone,state,channel,result_code,result_text,msg_key,message_id,message,fallback,attempts,created_at,sent_at,updated_at" {
		t.Fatalf("%d rows, header %q", len(rows), rows[0])
	}
	first := rows[1]
	if want := []string{fmt.Sprint(rs[0].ID), "m0", "01010000000", "DELIVERED", "SMS", "10000", "text of 10000", "K0",
		rs[0].MessageID, "=SUM(1) m0님, 쿠폰", "SMS", "1", "2026-03-01T09:00:00Z", "2026-03-01T09:00:01Z"}; strings.Join(first[:14], "|") != strings.Join(want, "|") {
		t.Fatalf("first row\n%q\nwant\n%q", first[:14], want)
	}
	for i, row := range rows[1:] {
		if row[0] != fmt.Sprint(rs[i].ID) || row[9] == "" {
			t.Fatalf("row %d = %q, want recipient %d with its message", i, row, rs[i].ID)
		}
	}
	if rows[2][4] != "" || rows[2][3] != "ACCEPTED" {
		t.Fatalf("row without a report: %q, want no channel", rows[2])
	}

	r := e.do("GET", fmt.Sprintf("/v1/campaigns/%d/recipients.csv?bom=1", c.ID), "", nil)
	r.want(t, 200, nil)
	if !bytes.HasPrefix(r.body, []byte("\xEF\xBB\xBFid,member_id")) || r.header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		r.header.Get("X-Total-Count") != fmt.Sprint(n) {
		t.Fatalf("bom export starts %q, headers %v", r.body[:20], r.header)
	}
	excel, err := csv.NewReader(bytes.NewReader(r.body[3:])).ReadAll()
	if err != nil || excel[1][9] != "'=SUM(1) m0님, 쿠폰" {
		t.Fatalf("excel export message %q (%v), want the formula defused", excel[1][9], err)
	}
	e.do("GET", fmt.Sprintf("/v1/campaigns/%d/recipients.csv?bom=yes", c.ID), "", nil).wantError(t, 400, "invalid", "bom")
	e.do("GET", "/v1/campaigns/999/recipients.csv", "", nil).wantError(t, 404, "not_found", "")
	if _, err := e.client().ExportRecipients(t.Context(), 999, false); !errors.Is(err, herald.ErrNotFound) {
		t.Fatalf("export of a missing campaign: %v", err)
	}
}

// pageFailingStore fails FindRecipients after the first page.
type pageFailingStore struct {
	herald.Store
	calls int
}

func (s *pageFailingStore) FindRecipients(ctx context.Context, f herald.RecipientFilter) ([]herald.Recipient, error) {
	if s.calls++; s.calls > 1 {
		return nil, errors.New("database went away")
	}
	return s.Store.FindRecipients(ctx, f)
}

// A store error in the middle of an export breaks the transfer: the
// client never mistakes a short file for the whole campaign.
func TestRecipientsCSVBreaksOffOnError(t *testing.T) {
	t.Parallel()
	seed := newEnv(t)
	c, _ := seed.sentCampaign(25)
	e := newEnvWith(t, seed.store, &pageFailingStore{Store: seed.store}, func(c *heraldhttp.ServerConfig) { c.ExportPageSize = 20 })
	body, err := e.client().ExportRecipients(t.Context(), c.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	n, err := io.Copy(io.Discard, body)
	if err == nil {
		t.Fatalf("read %d bytes of a broken export without an error", n)
	}
}
