package http_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	herald "github.com/heraldhq/herald"
)

func (e *env) postMessage(key string, body any) response {
	e.t.Helper()
	b, _ := json.Marshal(body)
	return e.do("POST", "/v1/messages", "application/json", bytes.NewReader(b), "Idempotency-Key", key)
}

func TestMessagesIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addTemplate(welcome)
	e.addMembers(2)
	body := map[string]any{"templateCode": "WELCOME_1", "phone": "010-9999-0000",
		"variables": map[string]string{"name": "손님", "shop": "herald", "coupon": "X1"}}
	var first, again herald.Message
	r := e.postMessage("order-77", body)
	r.want(t, 202, &first)
	if first.ID == 0 || first.Phone != "01099990000" || first.Result.State != herald.RecipientPending || r.header.Get("Location") == "" {
		t.Fatalf("first = %+v", first)
	}
	r = e.postMessage("order-77", body)
	r.want(t, 200, &again)
	if again.ID != first.ID || r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay = %+v (%v)", again, r.header)
	}
	body["variables"] = map[string]string{"name": "손님", "shop": "herald", "coupon": "X2"}
	e.postMessage("order-77", body).wantError(t, 409, "conflict", "")
	e.postMessage("", body).wantError(t, 400, "invalid", "Idempotency-Key")
	e.postMessage("k2", map[string]any{"templateCode": "NOPE", "phone": "01099990000"}).wantError(t, 400, "invalid", "templateCode")
	e.postMessage("k3", map[string]any{"templateCode": "WELCOME_1", "phone": "01099990000"}).wantError(t, 400, "invalid", "variables")
	e.postMessage("k4", map[string]any{"templateCode": "WELCOME_1", "phone": "123"}).wantError(t, 400, "invalid", "phone")
	e.postMessage("k5", map[string]any{"templateCode": "WELCOME_1", "memberId": "ghost"}).wantError(t, 400, "invalid", "memberId")
	e.do("POST", "/v1/members/m1/withdraw", "", nil).want(t, 200, nil)
	e.postMessage("k6", map[string]any{"templateCode": "WELCOME_1", "memberId": "m1", "variables": map[string]string{"shop": "h"}}).
		wantError(t, 400, "invalid", "memberId")
	var byMember herald.Message
	e.postMessage("k7", map[string]any{"templateCode": "WELCOME_1", "memberId": "m0", "variables": map[string]string{"shop": "h"}}).want(t, 202, &byMember)
	if byMember.Result.Phone == "" || byMember.CampaignID != first.CampaignID {
		t.Fatalf("member message = %+v", byMember)
	}
	var got herald.Message
	e.do("GET", "/v1/messages/"+itoa(first.ID), "", nil).want(t, 200, &got)
	if got.IdempotencyKey != "order-77" || got.Result.ID != first.Result.ID {
		t.Fatalf("get = %+v", got)
	}
	e.do("GET", "/v1/messages/424242", "", nil).wantError(t, 404, "not_found", "")
	var c herald.Campaign
	e.do("GET", "/v1/campaigns/"+itoa(first.CampaignID), "", nil).want(t, 200, &c)
	if c.Kind != herald.KindMessages || c.Total != 2 {
		t.Fatalf("messages campaign = %+v", c)
	}

	// The Go client: the replay is reported.
	cl := e.client()
	m := herald.Message{TemplateCode: "WELCOME_1", Phone: "01099990000", Variables: map[string]string{"name": "손님", "shop": "herald", "coupon": "X1"}}
	m1, replayed, err := cl.SendMessage(t.Context(), "order-77", m)
	if err != nil || !replayed || m1.ID != first.ID {
		t.Fatalf("client replay: %v %v %+v", err, replayed, m1)
	}
	m2, replayed, err := cl.SendMessage(t.Context(), "order-78", m)
	if err != nil || replayed || m2.ID == first.ID {
		t.Fatalf("client new: %v %v %+v", err, replayed, m2)
	}
	if got, err := cl.GetMessage(t.Context(), m2.ID); err != nil || got.IdempotencyKey != "order-78" {
		t.Fatalf("client get: %v %+v", err, got)
	}
	if _, _, err := cl.SendMessage(t.Context(), "order-78", herald.Message{TemplateCode: "WELCOME_1", Phone: "01011112222",
		Variables: m.Variables}); !errors.Is(err, herald.ErrConflict) {
		t.Fatalf("reused key with another request: %v", err)
	}
}
