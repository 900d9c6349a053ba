package http_test

import (
	"math"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/internal/review"
)

// reviewEnv has ten members m0…m9 with coupons (m5 without: it cannot
// render), m3 withdrawn, and the welcome template; it sends with an SMS
// fallback at a sender-key limit of 20/s, two-person rule on.
func reviewEnv(t *testing.T) *env {
	e := newEnv(t, func(c *heraldhttp.ServerConfig) {
		w, _ := herald.ParseSendWindow("08:00-20:50")
		c.Sending = review.Settings{BatchSize: 1, FallbackFrom: "0212345678", TPS: 20, Headroom: 0.015, SendWindow: w}
		c.RequireApprover = true
	})
	e.addTemplate(welcome)
	var b strings.Builder
	b.WriteString("id,phone,name,coupon\n")
	for i := range 10 {
		coupon := "C" + string(rune('0'+i))
		if i == 5 {
			coupon = ""
		}
		b.WriteString("m" + string(rune('0'+i)) + ",0101000000" + string(rune('0'+i)) + ",Member " + string(rune('0'+i)) + "," + coupon + "\n")
	}
	e.importCSV(b.String()).want(t, 200, nil)
	e.do("POST", "/v1/members/m3/withdraw", "", nil).want(t, 200, nil)
	return e
}

func TestDraftReviewApproveClone(t *testing.T) {
	t.Parallel()
	e := reviewEnv(t)
	ids := []string{"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9", "m1", "ghost"}
	var c herald.Campaign
	// Not asked for a draft, but --require-approver makes every new campaign one.
	e.json("POST", "/v1/campaigns", map[string]any{"name": "spring", "templateCode": "WELCOME_1",
		"audience": map[string]any{"memberIds": ids}, "variables": map[string]string{"shop": "herald"}, "tps": 50}).want(t, 201, &c)
	if c.State != herald.CampaignDraft || c.CreatedBy == "" || strings.Contains(c.CreatedBy, tokenA) {
		t.Fatalf("created %+v", c)
	}
	var r review.Review
	e.do("POST", "/v1/campaigns/"+itoa(c.ID)+"/review", "", nil).want(t, 200, &r)
	want := review.Audience{Selected: 12, Duplicates: 1, Unknown: 1, Withdrawn: 1, Recipients: 9}
	if r.Audience != want {
		t.Errorf("audience = %+v, want %+v", r.Audience, want)
	}
	if r.Skipped.Count != 2 || r.Skipped.ByCode["WITHDRAWN"] != 1 || r.Skipped.ByCode["MEMBER_GONE"] != 1 {
		t.Errorf("skipped = %+v", r.Skipped)
	}
	if r.Failures.Count != 1 || r.Failures.ByCode["RENDER"] != 1 || r.Failures.Examples[0].MemberID != "m5" ||
		!strings.Contains(r.Failures.Examples[0].Text, "coupon") {
		t.Errorf("failures = %+v", r.Failures)
	}
	if r.Messages != 8 || len(r.Samples) != 3 {
		t.Fatalf("messages %d, samples %+v", r.Messages, r.Samples)
	}
	s0 := r.Samples[0]
	if s0.MemberID != "m0" || s0.Text != "Member 0님, herald 쿠폰 C0을 받으세요." || s0.SendType != "text" ||
		s0.FallbackFrom != "0212345678" || s0.FallbackKind != "SMS" || s0.SenderKey != "sender-key-1" ||
		len(s0.Buttons) != 1 || s0.Buttons[0].URLMobile != "https://example.com/c/C0" {
		t.Errorf("sample = %+v", s0)
	}
	if f := r.Fallback; !f.Enabled || f.Legs != 8 || f.SMS != 8 || f.Expected != nil {
		t.Errorf("fallback = %+v (no history yet: no forecast)", f)
	}
	// 8 messages at min(50, 20)/1.015 per second, from 18:00 KST.
	fc := r.Forecast
	if fc.EffectiveTPS != 20/1.015 || math.Abs(fc.Seconds-8/(20/1.015)) > 1e-9 || !fc.FitsWindow || fc.SendWindow != "08:00-20:50" ||
		!fc.StartsAt.Equal(testNow) || fc.WindowClosesAt == nil {
		t.Errorf("forecast = %+v", fc)
	}

	// The two-person rule: the creating token cannot approve.
	e.do("POST", "/v1/campaigns/"+itoa(c.ID)+"/approve", "", nil).wantError(t, 403, "forbidden", "")
	var got herald.Campaign
	e.do("POST", "/v1/campaigns/"+itoa(c.ID)+"/approve", "", nil, "Authorization", "Bearer "+tokenB).want(t, 200, &got)
	if got.State != herald.CampaignScheduled || got.ApprovedBy == "" || got.ApprovedBy == got.CreatedBy {
		t.Errorf("approved = %+v", got)
	}
	e.do("POST", "/v1/campaigns/"+itoa(c.ID)+"/approve", "", nil, "Authorization", "Bearer "+tokenB).wantError(t, 409, "conflict", "")

	var cl herald.Campaign
	e.do("POST", "/v1/campaigns/"+itoa(c.ID)+"/clone", "", nil, "Authorization", "Bearer "+tokenB).want(t, 201, &cl)
	if cl.ID == c.ID || cl.State != herald.CampaignDraft || cl.Name != "spring (copy)" || len(cl.Audience.MemberIDs) != 12 ||
		cl.Variables["shop"] != "herald" || cl.TPS != 50 || cl.CreatedBy != got.ApprovedBy {
		t.Errorf("clone = %+v", cl)
	}
	// The clone's creator (tokenB) cannot approve it; tokenA can.
	e.do("POST", "/v1/campaigns/"+itoa(cl.ID)+"/approve", "", nil, "Authorization", "Bearer "+tokenB).wantError(t, 403, "forbidden", "")
	e.do("POST", "/v1/campaigns/"+itoa(cl.ID)+"/approve", "", nil).want(t, 200, nil)
	e.do("POST", "/v1/campaigns/999/review", "", nil).wantError(t, 404, "not_found", "")
}

func TestDraftWithoutTwoPersonRule(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addTemplate(welcome)
	e.addMembers(3)
	var c herald.Campaign
	e.json("POST", "/v1/campaigns", map[string]any{"name": "d", "templateCode": "WELCOME_1", "draft": true,
		"audience": map[string]any{"all": true}, "variables": map[string]string{"shop": "h"}, "tps": 5,
		"sendWindow": "09:00-18:00"}).want(t, 201, &c)
	if c.State != herald.CampaignDraft || c.SendWindow != "09:00-18:00" {
		t.Fatalf("draft = %+v", c)
	}
	// A draft cannot be resumed or paused into sending; only approved.
	e.do("POST", "/v1/campaigns/"+itoa(c.ID)+"/resume", "", nil).wantError(t, 409, "conflict", "")
	e.do("POST", "/v1/campaigns/"+itoa(c.ID)+"/pause", "", nil).wantError(t, 409, "conflict", "")
	var r review.Review
	e.do("POST", "/v1/campaigns/"+itoa(c.ID)+"/review", "", nil).want(t, 200, &r)
	// testNow is 18:00 KST: the window has just closed; 3 messages at 5/s
	// start at 09:00 the next morning.
	next := time.Date(2026, 3, 2, 9, 0, 0, 0, herald.Seoul)
	if r.Audience.Recipients != 3 || !r.Forecast.StartsAt.Equal(next) || !r.Forecast.FinishAt.Equal(next.Add(609*time.Millisecond)) || !r.Forecast.FitsWindow {
		t.Errorf("review = %+v", r.Forecast)
	}
	e.do("POST", "/v1/campaigns/"+itoa(c.ID)+"/approve", "", nil).want(t, 200, nil) // the creator may, without the rule
	e.json("POST", "/v1/campaigns", map[string]any{"name": "d", "templateCode": "WELCOME_1", "audience": map[string]any{"all": true},
		"variables": map[string]string{"shop": "h"}, "tps": 5, "sendWindow": "9-18"}).wantError(t, 400, "invalid", "sendWindow")
}
