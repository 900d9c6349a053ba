package templatesync_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/mockprovider"
	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/template"
	"github.com/heraldhq/herald/templatesync"
)

const senderKey = "SK1"

type env struct {
	mock   *mockprovider.Server
	client *infobank.Client
	store  herald.Store
}

func newEnv(t *testing.T, catalog []herald.Template, insp map[string]string) env {
	t.Helper()
	cfg := mockprovider.DefaultConfig()
	cfg.APIKey, cfg.LogEvery, cfg.APIRate = "k", 0, 0
	cfg.Templates, cfg.Inspection = catalog, insp
	m, err := mockprovider.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(m)
	t.Cleanup(ts.Close)
	c, err := infobank.New(infobank.Config{BaseURL: ts.URL, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return env{m, c, s}
}

func (e env) sync(t *testing.T, replace bool) templatesync.Result {
	t.Helper()
	res, err := templatesync.Sync(t.Context(), e.client, e.store, templatesync.Options{SenderKey: senderKey, Replace: replace})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func change(t *testing.T, r templatesync.Result, code string) templatesync.Change {
	t.Helper()
	for _, c := range r.Changes {
		if c.Code == code {
			return c
		}
	}
	t.Fatalf("no change for %s in %+v", code, r.Changes)
	return templatesync.Change{}
}

// noAttrs: the test templates use only member fields.
type noAttrs struct{}

func (noAttrs) HasMemberAttribute(context.Context, string) (bool, error) { return false, nil }

func campaignCheck(t *testing.T, s herald.Store, code string) error {
	t.Helper()
	tpl, err := s.GetTemplate(t.Context(), code)
	if err != nil {
		t.Fatal(err)
	}
	return template.CheckCampaign(t.Context(), noAttrs{}, tpl, herald.Campaign{TemplateCode: code, Audience: herald.Audience{All: true}})
}

var (
	order = herald.Template{Code: "ORDER", SenderKey: senderKey, Text: "#{name}님, 주문이 접수되었습니다.", Title: "주문",
		Buttons: []herald.Button{{Type: "WL", Name: "주문 보기", URLMobile: "https://example.com/o"}}}
	ship = herald.Template{Code: "SHIP", SenderKey: senderKey, Text: "#{name}님, 발송되었습니다."}
)

func TestSyncStoresTheProvidersCopyAndFollowsInspection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []herald.Template{order, ship}, map[string]string{"SHIP": infobank.InspectionRequested})
	first := e.sync(t, false)
	if c := change(t, first, "ORDER"); c.Kind != templatesync.Added || c.To != "APR" {
		t.Fatalf("ORDER: %+v", c)
	}
	got, _ := e.store.GetTemplate(t.Context(), "ORDER")
	if got.Text != order.Text || got.Title != order.Title || len(got.Buttons) != 1 || got.Buttons[0] != order.Buttons[0] ||
		got.Status != herald.TemplateApproved || got.ProviderStatus != "APR" || got.SyncedAt.IsZero() {
		t.Fatalf("stored ORDER = %+v", got)
	}
	if err := campaignCheck(t, e.store, "ORDER"); err != nil {
		t.Fatalf("an approved synced template is refused: %v", err)
	}
	if err := campaignCheck(t, e.store, "SHIP"); err == nil || !strings.Contains(err.Error(), "draft") {
		t.Fatalf("a template under inspection (REQ) must be refused, got %v", err)
	}
	// Nothing changed: nothing to report.
	if again := e.sync(t, false); again.Count(templatesync.Unchanged) != 2 {
		t.Fatalf("second sync: %+v", again.Changes)
	}
	// Kakao approves SHIP and the provider's ORDER text changes.
	changedOrder := order
	changedOrder.Text = "#{name}님, 주문이 정상 접수되었습니다."
	e.putCatalog(t, []herald.Template{changedOrder, ship}, nil)
	third := e.sync(t, false)
	if c := change(t, third, "SHIP"); c.Kind != templatesync.Status || c.From != "REQ" || c.To != "APR" {
		t.Fatalf("SHIP: %+v", c)
	}
	if err := campaignCheck(t, e.store, "SHIP"); err != nil {
		t.Fatalf("SHIP approved now, still refused: %v", err)
	}
	c := change(t, third, "ORDER")
	if c.Kind != templatesync.Content || !strings.Contains(c.Diff, "- #{name}님, 주문이 접수되었습니다.") || !strings.Contains(c.Diff, "+ #{name}님, 주문이 정상 접수되었습니다.") {
		t.Fatalf("ORDER: %+v\n%s", c, c.Diff)
	}
	if got, _ := e.store.GetTemplate(t.Context(), "ORDER"); got.Text != changedOrder.Text {
		t.Fatalf("ORDER not updated: %q", got.Text)
	}
	// Deleted at the provider: no longer sendable.
	e.putCatalog(t, []herald.Template{ship}, nil)
	if c := change(t, e.sync(t, false), "ORDER"); c.Kind != templatesync.Gone {
		t.Fatalf("ORDER after deletion: %+v", c)
	}
	if err := campaignCheck(t, e.store, "ORDER"); err == nil {
		t.Fatal("a template gone from the provider is still accepted")
	}
}

// A template registered by hand whose text differs from the provider's
// copy is kept but refused, with the difference shown, until --replace.
func TestSyncRefusesADifferingLocalCopy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []herald.Template{order, ship}, nil)
	local := order
	local.Text = "#{name}님, 주문이 접수되었습니다. " // a trailing space: invisible, but not what Kakao approved
	local.Status, local.CreatedAt = herald.TemplateApproved, time.Now().UTC().Truncate(time.Millisecond)
	if _, err := e.store.CreateTemplate(t.Context(), local); err != nil {
		t.Fatal(err)
	}
	same := ship
	same.Status, same.CreatedAt = herald.TemplateApproved, local.CreatedAt
	if _, err := e.store.CreateTemplate(t.Context(), same); err != nil {
		t.Fatal(err)
	}
	res := e.sync(t, false)
	c := change(t, res, "ORDER")
	if c.Kind != templatesync.Differs || !strings.Contains(c.Diff, `- "#{name}님, 주문이 접수되었습니다. "`) {
		t.Fatalf("ORDER: %+v\n%s", c, c.Diff)
	}
	if c := change(t, res, "SHIP"); c.Kind != templatesync.Adopted {
		t.Fatalf("SHIP (same content as the provider): %+v", c)
	}
	got, _ := e.store.GetTemplate(t.Context(), "ORDER")
	if got.Text != local.Text {
		t.Fatal("the hand-registered copy was overwritten without --replace")
	}
	err := campaignCheck(t, e.store, "ORDER")
	if err == nil || !strings.Contains(err.Error(), "differs from the provider") {
		t.Fatalf("a differing copy must be refused, got %v", err)
	}
	// Still refused on the next sync, and taken over with Replace.
	if c := change(t, e.sync(t, false), "ORDER"); c.Kind != templatesync.Differs {
		t.Fatalf("second sync: %+v", c)
	}
	if c := change(t, e.sync(t, true), "ORDER"); c.Kind != templatesync.Replaced {
		t.Fatalf("with replace: %+v", c)
	}
	if err := campaignCheck(t, e.store, "ORDER"); err != nil {
		t.Fatalf("after replace: %v", err)
	}
	if got, _ := e.store.GetTemplate(t.Context(), "ORDER"); got.Text != order.Text || !got.CreatedAt.Equal(local.CreatedAt) {
		t.Fatalf("after replace: %+v", got)
	}
}

func (e env) putCatalog(t *testing.T, ts []herald.Template, insp map[string]string) {
	t.Helper()
	if err := e.mock.ReplaceCatalog(ts, insp); err != nil {
		t.Fatal(err)
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	a := herald.Template{Text: "one\ntwo\nthree", Title: "t"}
	b := herald.Template{Text: "one\n2\nthree\nfour", Title: "t"}
	want := "text:\n  one\n- two\n+ 2\n  three\n+ four\n"
	if got := templatesync.Diff(a, b); got != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", got, want)
	}
	if templatesync.Diff(a, a) != "" {
		t.Fatal("no diff expected for equal templates")
	}
}
