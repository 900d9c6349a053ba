package http_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
)

func TestClientRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	ctx := t.Context()

	res, err := c.ImportMembers(ctx, strings.NewReader("id,phone,name,coupon\na,01011112222,A,C1\nb,bad,B,\na,01011113333,A2,C2\n"), "text/csv")
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, res, 3, 1, 0, 1, 1)
	if len(res.Errors) != 1 || res.Errors[0].Line != 3 || res.Errors[0].Field != "phone" {
		t.Errorf("errors %+v", res.Errors)
	}
	m, err := c.GetMember(ctx, "a")
	if err != nil || m.Name != "A2" || m.Attributes["coupon"] != "C2" {
		t.Fatalf("member %+v, %v", m, err)
	}
	if m, err = c.PutMember(ctx, herald.Member{ID: "p", Phone: "010-2222-3333", Name: "P"}); err != nil || m.Phone != "01022223333" {
		t.Fatalf("put %+v, %v", m, err)
	}
	if m, err = c.WithdrawMember(ctx, "p"); err != nil || m.Status != herald.MemberWithdrawn {
		t.Fatalf("withdraw %+v, %v", m, err)
	}

	tpl, err := c.CreateTemplate(ctx, welcome)
	if err != nil || tpl.Status != herald.TemplateApproved {
		t.Fatalf("template %+v, %v", tpl, err)
	}
	if ts, err := c.ListTemplates(ctx); err != nil || len(ts) != 1 {
		t.Fatalf("templates %v, %v", ts, err)
	}
	if tpl, err = c.GetTemplate(ctx, welcome.Code); err != nil || tpl.Text != welcome.Text {
		t.Fatalf("template %+v, %v", tpl, err)
	}

	start := time.Date(2026, 3, 1, 18, 30, 0, 0, time.FixedZone("KST", 9*3600))
	camp, err := c.CreateCampaign(ctx, herald.Campaign{Name: "c", TemplateCode: welcome.Code,
		Audience: herald.Audience{All: true}, Variables: map[string]string{"shop": "h"}, StartAt: start, TPS: 10})
	if err != nil || camp.ID == 0 || !camp.StartAt.Equal(start) {
		t.Fatalf("campaign %+v, %v", camp, err)
	}
	tps := 30
	later := start.Add(time.Hour)
	if camp, err = c.PatchCampaign(ctx, camp.ID, herald.CampaignPatch{TPS: &tps, StartAt: &later}); err != nil || camp.TPS != 30 || !camp.StartAt.Equal(later) {
		t.Fatalf("patch %+v, %v", camp, err)
	}
	if camp, err = c.PauseCampaign(ctx, camp.ID); err != nil || camp.State != herald.CampaignPaused {
		t.Fatalf("pause %+v, %v", camp, err)
	}
	if camp, err = c.ResumeCampaign(ctx, camp.ID); err != nil || camp.State == herald.CampaignPaused {
		t.Fatalf("resume %+v, %v", camp, err)
	}
	if camp, err = c.CancelCampaign(ctx, camp.ID); err != nil || camp.State != herald.CampaignCancelled {
		t.Fatalf("cancel %+v, %v", camp, err)
	}
	if cs, err := c.ListCampaigns(ctx); err != nil || len(cs) != 1 {
		t.Fatalf("campaigns %v, %v", cs, err)
	}
	if got, err := c.GetCampaign(ctx, camp.ID); err != nil || got.State != herald.CampaignCancelled {
		t.Fatalf("campaign %+v, %v", got, err)
	}
	if rs, next, err := c.ListRecipients(ctx, camp.ID, 0, 10); err != nil || len(rs) != 0 || next != 0 {
		t.Fatalf("recipients %v %d %v", rs, next, err)
	}
}

func TestClientMapsErrorsToTheDomain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	ctx := t.Context()
	if _, err := c.CreateTemplate(ctx, welcome); err != nil {
		t.Fatal(err)
	}
	e.addMembers(1) // someone has the coupon attribute

	_, err := c.GetMember(ctx, "nobody")
	if !errors.Is(err, herald.ErrNotFound) || errors.Is(err, herald.ErrConflict) {
		t.Errorf("get unknown member: %v", err)
	}
	if _, err := c.GetCampaign(ctx, 42); !errors.Is(err, herald.ErrNotFound) {
		t.Errorf("get unknown campaign: %v", err)
	}
	if _, err := c.CreateTemplate(ctx, welcome); !errors.Is(err, herald.ErrConflict) {
		t.Errorf("duplicate template: %v", err)
	}
	_, err = c.PutMember(ctx, herald.Member{ID: "x", Phone: "02-123-4567"})
	var inv *herald.InvalidError
	if !errors.As(err, &inv) || inv.Field != "phone" || !strings.HasPrefix(err.Error(), "phone: ") {
		t.Errorf("bad phone: %v (%#v)", err, inv)
	}
	_, err = c.CreateCampaign(ctx, herald.Campaign{Name: "c", TemplateCode: "NOPE", Audience: herald.Audience{All: true}, TPS: 1})
	if !errors.As(err, &inv) || inv.Field != "templateCode" {
		t.Errorf("unknown template: %v", err)
	}
	camp, err := c.CreateCampaign(ctx, herald.Campaign{Name: "c", TemplateCode: welcome.Code, Audience: herald.Audience{All: true}, TPS: 1,
		Variables: map[string]string{"shop": "herald"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CancelCampaign(ctx, camp.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ResumeCampaign(ctx, camp.ID); !errors.Is(err, herald.ErrConflict) {
		t.Errorf("resume a cancelled campaign: %v", err)
	}
	_, err = c.ImportMembers(ctx, strings.NewReader("{}"), "application/json")
	var apiErr *heraldhttp.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 415 || apiErr.Code != heraldhttp.CodeUnsupportedMediaType {
		t.Errorf("import as JSON: %v", err)
	}

	bad := heraldhttp.NewClient(e.srv.URL, "wrong", heraldhttp.WithHTTPClient(e.srv.Client()))
	_, err = bad.ListTemplates(ctx)
	if !errors.As(err, &apiErr) || apiErr.Status != 401 || apiErr.Code != heraldhttp.CodeUnauthorized {
		t.Errorf("wrong token: %v", err)
	}
}

func TestClientNonJSONErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/templates/gone":
			http.NotFound(w, r)
		default:
			http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	c := heraldhttp.NewClient(srv.URL+"/", "t")
	if _, err := c.GetTemplate(t.Context(), "gone"); !errors.Is(err, herald.ErrNotFound) {
		t.Errorf("plain 404: %v", err)
	}
	_, err := c.ListTemplates(t.Context())
	var apiErr *heraldhttp.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 502 || !strings.Contains(err.Error(), "bad gateway") {
		t.Errorf("502: %v", err)
	}
}
