package main

import (
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/internal/review"
	"github.com/heraldhq/herald/sqlite"
)

// TestCampaignDraftReviewApproveCLI drives create --draft, review, approve
// and clone through a real admin API on SQLite.
func TestCampaignDraftReviewApproveCLI(t *testing.T) {
	t.Parallel()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ctx := t.Context()
	if _, err := store.CreateTemplate(ctx, herald.Template{Code: "T1", SenderKey: "sk", Status: herald.TemplateApproved,
		Text: "#{name}님, 안녕하세요.", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.UpsertMembers(ctx, []herald.Member{
		{ID: "a", Phone: "01000000001", Name: "가", Status: herald.MemberActive},
		{ID: "b", Phone: "01000000002", Status: herald.MemberActive}, // no name: cannot render
	}); err != nil {
		t.Fatal(err)
	}
	api, err := heraldhttp.NewServer(heraldhttp.ServerConfig{Store: store, AdminTokens: []string{"test-token-0123456789"},
		Sending: review.Settings{BatchSize: 1, TPS: 10}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)

	out, _, err := run(t, srv, "campaigns", "create", "--name", "n", "--template", "T1", "--all", "--tps", "5", "--draft", "--send-window", "08:00-20:50")
	if err != nil || !strings.Contains(out, "draft") || !strings.Contains(out, "08:00-20:50 Asia/Seoul") {
		t.Fatalf("create: %v\n%s", err, out)
	}
	out, _, err = run(t, srv, "campaigns", "review", "1")
	for _, want := range []string{"2 selected", "→ 2 recipients", "will fail", "RENDER 1", "가님, 안녕하세요.", "4.9/s (campaign 5, sender key 10"} {
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("review: %v: no %q in\n%s", err, want, out)
		}
	}
	if out, _, err = run(t, srv, "campaigns", "approve", "1"); err != nil || !strings.Contains(out, "scheduled") {
		t.Fatalf("approve: %v\n%s", err, out)
	}
	if out, _, err = run(t, srv, "campaigns", "clone", "1"); err != nil || !strings.Contains(out, "n (copy)") || !strings.Contains(out, "draft") {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	if _, _, err = run(t, srv, "campaigns", "approve", "1"); err == nil {
		t.Fatal("approving a scheduled campaign: want an error")
	}
}
