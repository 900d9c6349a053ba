package http_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
)

// endedWith sends campaign id's 6 recipients to the given ends, in order,
// and completes it: each code "" is delivered, every other code a failure
// reported with it (FAILED), and "?" an in-doubt send left UNKNOWN.
func (e *env) endedWith(id int64, codes ...string) []herald.Recipient {
	e.t.Helper()
	ctx := e.t.Context()
	rows, err := e.store.ClaimRecipients(ctx, herald.ClaimParams{CampaignID: id, Limit: len(codes), Owner: "w", Now: testNow, LeaseUntil: testNow.Add(time.Minute)})
	if err != nil || len(rows) != len(codes) {
		e.t.Fatalf("claimed %d rows (%v), want %d", len(rows), err, len(codes))
	}
	var ups []herald.RecipientUpdate
	var reps []herald.Report
	for i, r := range rows {
		u := herald.RecipientUpdate{ID: r.ID, Owner: "w", Token: r.ClaimToken, State: herald.RecipientAccepted, MsgKey: "MK" + r.MessageID, At: testNow}
		switch codes[i] {
		case "?":
			u.State, u.ResultCode, u.MsgKey = herald.RecipientUnknown, "IN_DOUBT", ""
		case "":
			reps = append(reps, herald.Report{MsgKey: u.MsgKey, Ref: r.MessageID, ServiceType: "AT", Code: herald.ReportDelivered, ReportTime: testNow})
		default:
			reps = append(reps, herald.Report{MsgKey: u.MsgKey, Ref: r.MessageID, ServiceType: "AT", Code: codes[i], ReportTime: testNow})
		}
		ups = append(ups, u)
	}
	if err := e.store.RecordOutcomes(ctx, ups); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.ApplyReports(ctx, reps, testNow); err != nil {
		e.t.Fatal(err)
	}
	if ok, err := e.store.CompleteCampaign(ctx, id, testNow); err != nil || !ok {
		e.t.Fatalf("complete: %v %v", ok, err)
	}
	return rows
}

func TestFailuresAndRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addTemplate(welcome)
	e.addMembers(6)
	var src herald.Campaign
	e.json("POST", "/v1/campaigns", map[string]any{"name": "spring", "templateCode": "WELCOME_1",
		"audience": map[string]any{"all": true}, "variables": map[string]string{"shop": "herald"}, "tps": 7}).want(t, 201, &src)
	id := fmt.Sprint(src.ID)
	e.prepare(src.ID)
	e.json("POST", "/v1/campaigns/"+id+"/retry", nil).wantError(t, 409, "conflict", "") // still running
	rows := e.endedWith(src.ID, "", "63019", "63020", "63016", "?", "X1")

	var fl struct{ Failures []heraldhttp.Failure }
	e.do("GET", "/v1/campaigns/"+id+"/failures", "", nil).want(t, 200, &fl)
	want := []heraldhttp.Failure{
		{Code: "63016", State: herald.RecipientFailed, Count: 1, Ko: "메시지 내용이 템플릿과 일치하지 않음", En: "text does not match the approved template", Known: true},
		{Code: "63019", State: herald.RecipientFailed, Count: 1, Ko: "카카오톡 사용자가 아님", En: "not a KakaoTalk user", Retryable: true, Known: true},
		{Code: "63020", State: herald.RecipientFailed, Count: 1, Ko: "사용자가 알림톡 수신을 차단함", En: "the user blocked AlimTalk", Retryable: true, Known: true},
		{Code: "X1", State: herald.RecipientFailed, Count: 1, Ko: "알 수 없는 코드", En: "unknown code"},
		{Code: "IN_DOUBT", State: herald.RecipientUnknown, Count: 1, Ko: "발송 여부 불확실 (접수되었을 수 있음)", En: "in doubt: the request may have been taken", Known: true},
	}
	if !slices.Equal(fl.Failures, want) {
		t.Fatalf("failures = %+v\nwant %+v", fl.Failures, want)
	}
	e.do("GET", "/v1/campaigns/999/failures", "", nil).wantError(t, 404, "not_found", "")

	// The default: FAILED with retryable codes, same template, variables and rate.
	var f herald.Campaign
	r := e.json("POST", "/v1/campaigns/"+id+"/retry", nil)
	r.want(t, 201, &f)
	if f.RetryOf != src.ID || f.TemplateCode != src.TemplateCode || f.TPS != 7 || f.Variables["shop"] != "herald" ||
		f.State != herald.CampaignScheduled || f.Audience.Retry == nil || f.Audience.Retry.Members != 2 ||
		r.header.Get("Location") != fmt.Sprintf("/v1/campaigns/%d", f.ID) {
		t.Fatalf("follow-up = %+v", f)
	}
	if n := e.prepare(f.ID); n != 2 {
		t.Fatalf("follow-up prepared %d, want 2", n)
	}
	got, _, err := e.client().ListRecipients(t.Context(), f.ID, 0, 10)
	if err != nil || len(got) != 2 || got[0].MemberID != rows[1].MemberID || got[1].MemberID != rows[2].MemberID {
		t.Fatalf("follow-up recipients %+v (%v), want %s and %s", got, err, rows[1].MemberID, rows[2].MemberID)
	}
	// Nobody left for the default; UNKNOWN and other codes only by name.
	e.json("POST", "/v1/campaigns/"+id+"/retry", nil).wantError(t, 409, "conflict", "")
	u, err := e.client().RetryCampaign(t.Context(), src.ID, []herald.RecipientState{herald.RecipientUnknown}, nil)
	if err != nil || u.Audience.Retry.Members != 1 || u.RetryOf != src.ID {
		t.Fatalf("UNKNOWN retry = %+v, %v", u, err)
	}
	var x herald.Campaign
	e.json("POST", "/v1/campaigns/"+id+"/retry", map[string]any{"codes": []string{"X1"}}).want(t, 201, &x)
	if x.Audience.Retry.Members != 1 || !slices.Equal(x.Audience.Retry.Codes, []string{"X1"}) {
		t.Fatalf("X1 retry = %+v", x.Audience.Retry)
	}
	e.json("POST", "/v1/campaigns/"+id+"/retry", map[string]any{"states": []string{"DELIVERED"}}).wantError(t, 400, "invalid", "states")
	e.json("POST", "/v1/campaigns/"+id+"/retry", map[string]any{"state": []string{"FAILED"}}).wantError(t, 400, "invalid", "state")
	e.json("POST", "/v1/campaigns/999/retry", nil).wantError(t, 404, "not_found", "")
	// A retry's audience cannot be made by hand.
	e.json("POST", "/v1/campaigns", map[string]any{"name": "x", "templateCode": "WELCOME_1", "tps": 1,
		"variables": map[string]string{"shop": "herald"},
		"audience":  map[string]any{"retry": map[string]any{"campaignId": src.ID, "states": []string{"FAILED"}}}}).wantError(t, 400, "invalid", "audience")
}
