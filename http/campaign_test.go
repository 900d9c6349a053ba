package http_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlite"
)

// welcome uses a member field, a campaign constant and an attribute.
var welcome = herald.Template{
	Code:      "WELCOME_1",
	SenderKey: "sender-key-1",
	Text:      "#{name}님, #{shop} 쿠폰 #{coupon}을 받으세요.",
	Buttons:   []herald.Button{{Type: "WL", Name: "쿠폰 보기", URLMobile: "https://example.com/c/#{coupon}"}},
}

func (e *env) addTemplate(t herald.Template) {
	e.t.Helper()
	e.json("POST", "/v1/templates", t).want(e.t, 201, nil)
}

// addMembers imports n active members m0…m(n-1) with a coupon attribute.
func (e *env) addMembers(n int) {
	e.t.Helper()
	var b strings.Builder
	b.WriteString("id,phone,name,coupon\n")
	for i := range n {
		fmt.Fprintf(&b, "m%d,0101000%04d,Member %d,C%d\n", i, i, i, i)
	}
	e.importCSV(b.String()).want(e.t, 200, nil)
}

func TestTemplates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var got herald.Template
	e.json("POST", "/v1/templates", welcome).want(t, 201, &got)
	if got.Status != herald.TemplateApproved || got.Text != welcome.Text || !got.CreatedAt.Equal(testNow) || len(got.Buttons) != 1 {
		t.Errorf("created %+v", got)
	}
	e.json("POST", "/v1/templates", welcome).wantError(t, 409, "conflict", "")
	draft := welcome
	draft.Code, draft.Status, draft.Text = "DRAFT_1", herald.TemplateDraft, `'; DROP TABLE templates; -- "q" \ 한글 #{name}`
	e.json("POST", "/v1/templates", draft).want(t, 201, nil)

	bad := welcome
	bad.Code, bad.Text = "BAD_1", "unclosed #{name"
	e.json("POST", "/v1/templates", bad).wantError(t, 400, "invalid", "text")
	bad.Text, bad.SenderKey = "ok", ""
	e.json("POST", "/v1/templates", bad).wantError(t, 400, "invalid", "senderKey")
	e.json("POST", "/v1/templates", `{"code":"X","senderKey":"k","text":"t","colour":"red"}`).wantError(t, 400, "invalid", "colour")

	var list struct{ Templates []herald.Template }
	e.do("GET", "/v1/templates", "", nil).want(t, 200, &list)
	if len(list.Templates) != 2 || list.Templates[0].Code != "DRAFT_1" || list.Templates[0].Text != draft.Text {
		t.Errorf("list %+v", list.Templates)
	}
	e.do("GET", "/v1/templates/WELCOME_1", "", nil).want(t, 200, &got)
	e.do("GET", "/v1/templates/NOPE", "", nil).wantError(t, 404, "not_found", "")
}

func TestCampaignCreateRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addTemplate(welcome)
	e.addMembers(1) // someone has the coupon attribute
	draft := welcome
	draft.Code, draft.Status = "DRAFT_1", herald.TemplateDraft
	e.addTemplate(draft)
	ok := func() map[string]any {
		return map[string]any{"name": "spring", "templateCode": "WELCOME_1", "audience": map[string]any{"all": true},
			"variables": map[string]string{"shop": "herald"}, "tps": 50}
	}
	for _, tc := range []struct {
		name   string
		change func(map[string]any)
		status int
		field  string
	}{
		{"unknown field", func(m map[string]any) { m["tpss"] = 5 }, 400, "tpss"},
		{"unknown audience field", func(m map[string]any) { m["audience"] = map[string]any{"everyone": true} }, 400, "everyone"},
		{"no template", func(m map[string]any) { m["templateCode"] = "NOPE" }, 400, "templateCode"},
		{"draft template", func(m map[string]any) { m["templateCode"] = "DRAFT_1" }, 400, "templateCode"},
		{"no name", func(m map[string]any) { m["name"] = " " }, 400, "name"},
		{"tps 0", func(m map[string]any) { m["tps"] = 0 }, 400, "tps"},
		{"tps string", func(m map[string]any) { m["tps"] = "fast" }, 400, "tps"},
		{"two audiences", func(m map[string]any) {
			m["audience"] = map[string]any{"all": true, "memberIds": []string{"a"}}
		}, 400, "audience"},
		{"bad startAt", func(m map[string]any) { m["startAt"] = "tomorrow" }, 400, "startAt"},
		{"ok", func(m map[string]any) {}, 201, ""},
		{"ok later", func(m map[string]any) { m["startAt"] = "2026-03-02T09:00:00+09:00" }, 201, ""},
	} {
		body := ok()
		tc.change(body)
		r := e.json("POST", "/v1/campaigns", body)
		if tc.status != 201 {
			r.wantError(t, tc.status, "invalid", tc.field)
			continue
		}
		var c herald.Campaign
		r.want(t, 201, &c)
		if c.ID == 0 || c.State != herald.CampaignScheduled || c.TPS != 50 || c.Variables["shop"] != "herald" {
			t.Errorf("%s: created %+v", tc.name, c)
		}
		if r.header.Get("Location") != fmt.Sprintf("/v1/campaigns/%d", c.ID) {
			t.Errorf("%s: Location %q", tc.name, r.header.Get("Location"))
		}
		if _, set := body["startAt"]; !set && !c.StartAt.Equal(testNow) {
			t.Errorf("%s: startAt %v, want now", tc.name, c.StartAt)
		}
	}
	e.json("POST", "/v1/campaigns", `{"name":"x"`).wantError(t, 400, "invalid", "")
}

// attrStore answers HasMemberAttribute from a fixed set, standing in for a
// store whose HasMemberAttribute answers from a fixed set.
type attrStore struct {
	*sqlite.Store
	keys map[string]bool
}

func (s attrStore) HasMemberAttribute(_ context.Context, key string) (bool, error) {
	return s.keys[key], nil
}

func TestCampaignVariablesMustHaveASource(t *testing.T) {
	t.Parallel()
	base := newEnv(t)
	e := newEnvWith(t, base.store, attrStore{Store: base.store, keys: map[string]bool{"coupon": true}})
	e.addTemplate(welcome)
	create := func(vars map[string]string, audience map[string]any) response {
		return e.json("POST", "/v1/campaigns", map[string]any{"name": "n", "templateCode": "WELCOME_1",
			"audience": audience, "variables": vars, "tps": 10})
	}
	all := map[string]any{"all": true}
	// name is a member field, coupon an attribute some members have: shop is missing.
	create(nil, all).wantError(t, 400, "invalid", "variables.shop")
	create(map[string]string{"shop": "herald"}, all).want(t, 201, nil)
	// An attribute the audience filter fixes counts as provided.
	create(nil, map[string]any{"attributes": map[string]string{"shop": "seoul"}}).want(t, 201, nil)

	// On the real store: refused until some member has the attribute; then
	// members without it fail at send time with the reason.
	plain := newEnvWith(t, base.store, base.store)
	plain.json("POST", "/v1/campaigns", map[string]any{"name": "n", "templateCode": "WELCOME_1",
		"audience": all, "tps": 10}).wantError(t, 400, "invalid", "variables.shop")
	if _, err := base.store.UpsertMembers(t.Context(), []herald.Member{{ID: "m1", Phone: "01012345678", Status: herald.MemberActive,
		Attributes: map[string]string{"shop": "seoul", "coupon": "C1"}, UpdatedAt: testNow}}); err != nil {
		t.Fatal(err)
	}
	plain.json("POST", "/v1/campaigns", map[string]any{"name": "n", "templateCode": "WELCOME_1",
		"audience": all, "tps": 10}).want(t, 201, nil)
}

// prepare does what the scheduler does when the campaign is due: it
// materialises the recipients. It returns how many.
func (e *env) prepare(id int64) int {
	e.t.Helper()
	if _, err := e.store.AcquireCampaignLease(e.t.Context(), "test", testNow, time.Minute); err != nil {
		e.t.Fatal(err)
	}
	n, err := e.store.PrepareRecipients(e.t.Context(), id, "test", testNow)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func sumCounts(c herald.Campaign) int {
	n := 0
	for _, v := range c.Counts {
		n += v
	}
	return n
}

func TestCampaignLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addTemplate(welcome)
	e.addMembers(25)
	var c herald.Campaign
	e.json("POST", "/v1/campaigns", map[string]any{"name": "봄 세일 '; --", "templateCode": "WELCOME_1",
		"audience": map[string]any{"all": true}, "variables": map[string]string{"shop": "herald"}, "tps": 5}).want(t, 201, &c)
	id := fmt.Sprint(c.ID)

	var patched herald.Campaign
	e.json("PATCH", "/v1/campaigns/"+id, map[string]any{"tps": 20, "startAt": "2026-03-01T08:00:00Z"}).want(t, 200, &patched)
	if patched.TPS != 20 || !patched.StartAt.Equal(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("patched %+v", patched)
	}
	e.json("PATCH", "/v1/campaigns/"+id, map[string]any{}).wantError(t, 400, "invalid", "")
	e.json("PATCH", "/v1/campaigns/"+id, map[string]any{"tps": -1}).wantError(t, 400, "invalid", "tps")
	e.json("PATCH", "/v1/campaigns/"+id, map[string]any{"state": "running"}).wantError(t, 400, "invalid", "state")
	e.json("PATCH", "/v1/campaigns/999", map[string]any{"tps": 3}).wantError(t, 404, "not_found", "")

	if n := e.prepare(c.ID); n != 25 {
		t.Fatalf("prepared %d recipients, want 25", n)
	}
	e.do("GET", "/v1/campaigns/"+id, "", nil).want(t, 200, &c)
	if c.Total != 25 || sumCounts(c) != 25 || c.Counts[herald.RecipientPending] != 25 || c.Name != "봄 세일 '; --" {
		t.Errorf("prepared campaign %+v", c)
	}

	e.do("POST", "/v1/campaigns/"+id+"/pause", "", nil).want(t, 200, &c)
	if c.State != herald.CampaignPaused {
		t.Errorf("after pause: %s", c.State)
	}
	e.do("POST", "/v1/campaigns/"+id+"/pause", "", nil).wantError(t, 409, "conflict", "")
	e.do("POST", "/v1/campaigns/"+id+"/resume", "", nil).want(t, 200, &c)
	if c.State != herald.CampaignRunning {
		t.Errorf("after resume: %s", c.State)
	}
	e.do("POST", "/v1/campaigns/"+id+"/cancel", "", nil).want(t, 200, &c)
	if c.State != herald.CampaignCancelled || c.Counts[herald.RecipientCancelled] != 25 || sumCounts(c) != c.Total {
		t.Errorf("after cancel: %+v", c)
	}
	e.do("POST", "/v1/campaigns/"+id+"/resume", "", nil).wantError(t, 409, "conflict", "")
	e.do("POST", "/v1/campaigns/"+id+"/cancel", "", nil).wantError(t, 409, "conflict", "")
	e.do("POST", "/v1/campaigns/999/pause", "", nil).wantError(t, 404, "not_found", "")
	e.do("POST", "/v1/campaigns/abc/pause", "", nil).wantError(t, 400, "invalid", "id")

	var list struct{ Campaigns []herald.Campaign }
	e.do("GET", "/v1/campaigns", "", nil).want(t, 200, &list)
	if len(list.Campaigns) != 1 || list.Campaigns[0].Total != 25 || sumCounts(list.Campaigns[0]) != 25 {
		t.Errorf("list %+v", list.Campaigns)
	}
}

func TestCampaignRecipients(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addTemplate(welcome)
	e.addMembers(7)
	var c herald.Campaign
	e.json("POST", "/v1/campaigns", map[string]any{"name": "ids", "templateCode": "WELCOME_1",
		"audience":  map[string]any{"memberIds": []string{"m1", "m3", "m5", "m6", "nobody"}},
		"variables": map[string]string{"shop": "h"}, "tps": 5}).want(t, 201, &c)
	e.prepare(c.ID)
	var ids []string
	path := fmt.Sprintf("/v1/campaigns/%d/recipients?limit=3", c.ID)
	for after := int64(0); ; {
		var page struct {
			Recipients []herald.Recipient
			Next       int64
		}
		e.do("GET", fmt.Sprintf("%s&after=%d", path, after), "", nil).want(t, 200, &page)
		for _, r := range page.Recipients {
			ids = append(ids, r.MemberID)
		}
		if page.Next == 0 {
			break
		}
		after = page.Next
	}
	if strings.Join(ids, ",") != "m1,m3,m5,m6" {
		t.Errorf("recipients %v", ids)
	}
	e.do("GET", fmt.Sprintf("/v1/campaigns/%d/recipients?limit=0", c.ID), "", nil).wantError(t, 400, "invalid", "limit")
	e.do("GET", fmt.Sprintf("/v1/campaigns/%d/recipients?after=x", c.ID), "", nil).wantError(t, 400, "invalid", "after")
	e.do("GET", "/v1/campaigns/999/recipients", "", nil).wantError(t, 404, "not_found", "")
}

func TestCampaignBodyLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addTemplate(welcome)
	ids := strings.Repeat(`"member-id-0123456789",`, 1_600_000) // about 37 MB
	body := `{"name":"big","templateCode":"WELCOME_1","tps":5,"audience":{"memberIds":[` + ids + `"x"]}}`
	e.json("POST", "/v1/campaigns", body).wantError(t, 413, "too_large", "")
}

// TestCampaignReason: the reason the dispatcher halted a campaign with is
// in the campaign's JSON (get, list, the client), and a resume clears it.
func TestCampaignReason(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addTemplate(welcome)
	e.addMembers(3)
	var c herald.Campaign
	e.json("POST", "/v1/campaigns", map[string]any{"name": "halted", "templateCode": "WELCOME_1",
		"audience": map[string]any{"all": true}, "variables": map[string]string{"shop": "h"}, "tps": 5}).want(t, 201, &c)
	id := fmt.Sprint(c.ID)
	if got := e.do("GET", "/v1/campaigns/"+id, "", nil); strings.Contains(string(got.body), `"reason"`) {
		t.Errorf("a campaign without a reason shows one: %s", got.body)
	}
	e.prepare(c.ID)
	const reason = "provider refused the account: A401 Unauthorized"
	if _, err := e.store.HaltCampaign(t.Context(), c.ID, herald.CampaignPaused, reason, testNow); err != nil {
		t.Fatal(err)
	}
	got := e.do("GET", "/v1/campaigns/"+id, "", nil)
	got.want(t, 200, &c)
	if !strings.Contains(string(got.body), `"reason":"`+reason+`"`) || c.Reason != reason || c.State != herald.CampaignPaused {
		t.Errorf("halted campaign: %s", got.body)
	}
	var list struct{ Campaigns []herald.Campaign }
	e.do("GET", "/v1/campaigns", "", nil).want(t, 200, &list)
	if len(list.Campaigns) != 1 || list.Campaigns[0].Reason != reason {
		t.Errorf("list %+v", list.Campaigns)
	}
	if c, err := e.client().GetCampaign(t.Context(), c.ID); err != nil || c.Reason != reason {
		t.Errorf("client: %+v %v", c, err)
	}
	var resumed herald.Campaign // reason is omitted when empty: decode afresh
	e.do("POST", "/v1/campaigns/"+id+"/resume", "", nil).want(t, 200, &resumed)
	if resumed.State != herald.CampaignRunning || resumed.Reason != "" {
		t.Errorf("after resume: %s %q", resumed.State, resumed.Reason)
	}
}
