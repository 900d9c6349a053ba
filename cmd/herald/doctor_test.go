package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/mockprovider"
	"github.com/heraldhq/herald/sqlite"
)

var doctorTemplate = herald.Template{Code: "WELCOME", SenderKey: "SK", Text: "#{name}님, 환영합니다.", Status: herald.TemplateApproved}

// doctorEnv is a mock provider set up as edit says and a database with one
// open campaign on local (herald's copy of the template).
func doctorEnv(t *testing.T, local herald.Template, edit func(*mockprovider.Config)) doctorConfig {
	t.Helper()
	mc := mockprovider.DefaultConfig()
	mc.APIKey, mc.LogEvery = "doctor-key", 0
	mc.Reports, mc.ReportURL = mockprovider.ReportsWebhook, "http://127.0.0.1:1/v1/reports"
	mc.Templates, mc.SenderKeys = []herald.Template{doctorTemplate}, []string{"SK"}
	if edit != nil {
		edit(&mc)
	}
	m, err := mockprovider.New(mc, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	db := filepath.Join(t.TempDir(), "herald.db")
	s, err := sqlite.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	local.CreatedAt = time.Now().UTC()
	if _, err := s.CreateTemplate(t.Context(), local); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateCampaign(t.Context(), herald.Campaign{Name: "c", TemplateCode: local.Code, Audience: herald.Audience{All: true},
		TPS: 10, State: herald.CampaignDraft, CreatedAt: local.CreatedAt}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	return doctorConfig{DB: "sqlite:" + db, ProviderURL: srv.URL, ProviderKey: "doctor-key", SenderKey: "SK",
		Reports: reportsWebhook, Secret: "s3cret", PublicURL: "https://herald.example.com/v1/reports", Timeout: 5 * time.Second}
}

func runChecks(t *testing.T, cfg doctorConfig) map[string]check {
	t.Helper()
	checks, err := runDoctor(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]check{}
	for _, c := range checks {
		out[c.Name] = c
	}
	return out
}

// failing returns the names of the failed checks.
func failing(checks map[string]check) []string {
	var out []string
	for name, c := range checks {
		if c.Result == checkFail {
			out = append(out, name)
		}
	}
	return out
}

func TestDoctorAllPass(t *testing.T) {
	t.Parallel()
	checks := runChecks(t, doctorEnv(t, doctorTemplate, nil))
	if f := failing(checks); len(f) != 0 {
		t.Fatalf("failed: %v\n%+v", f, checks)
	}
	for _, name := range []string{"API key", "sender key SK", "template WELCOME", "report method", "webhook"} {
		if checks[name].Result != checkOK {
			t.Errorf("%s = %+v, want ok", name, checks[name])
		}
	}
}

// Each gating switch of the mock makes exactly its check fail, with a fix.
func TestDoctorFindsEachProblem(t *testing.T) {
	t.Parallel()
	differs := doctorTemplate
	differs.Text = "#{name}님 환영합니다." // the comma is missing
	cases := []struct {
		name  string
		local herald.Template
		edit  func(*mockprovider.Config)
		cfg   func(*doctorConfig)
		check string
		want  string
	}{
		{"wrong key", doctorTemplate, nil, func(c *doctorConfig) { c.ProviderKey = "other" }, "API key", "A401"},
		{"sender key not owned", doctorTemplate, func(c *mockprovider.Config) { c.SenderKeys = []string{"OTHER"} }, nil, "sender key SK", "A502"},
		{"template under inspection", doctorTemplate, func(c *mockprovider.Config) {
			c.Inspection = map[string]string{"WELCOME": infobank.InspectionRequested}
		}, nil, "template WELCOME", "REQ"},
		{"template differs", differs, nil, nil, "template WELCOME", "- #{name}님 환영합니다."},
		{"template missing", herald.Template{Code: "NOPE", SenderKey: "SK", Text: "x", Status: herald.TemplateApproved}, nil, nil, "template NOPE", "not at the provider"},
		{"polling key, serve on webhook", doctorTemplate, func(c *mockprovider.Config) { c.Reports, c.ReportURL = mockprovider.ReportsPolling, "" }, nil,
			"report method", "by polling"},
		{"webhook key, serve polling", doctorTemplate, nil, func(c *doctorConfig) { c.Reports = reportsPolling }, "report method", "by webhook"},
		{"no secret", doctorTemplate, nil, func(c *doctorConfig) { c.Secret = "" }, "webhook", "no --report-secret"},
		{"no public URL", doctorTemplate, nil, func(c *doctorConfig) { c.PublicURL = "" }, "webhook", "no --public-url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := doctorEnv(t, tc.local, tc.edit)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			checks := runChecks(t, cfg)
			c := checks[tc.check]
			if c.Result != checkFail || !strings.Contains(c.Detail, tc.want) || c.Fix == "" {
				t.Fatalf("%s = %+v, want FAIL naming %q with a fix", tc.check, c, tc.want)
			}
			if f := failing(checks); len(f) != 1 {
				t.Fatalf("failed checks %v, want only %s", f, tc.check)
			}
		})
	}
}

// serve --template-sync-interval: the first sync runs at once and stores the
// provider's copy; stop ends the loop.
func TestPeriodicTemplateSync(t *testing.T) {
	t.Parallel()
	cfg := doctorEnv(t, herald.Template{Code: "OTHER", SenderKey: "SK", Text: "x", Status: herald.TemplateApproved}, nil)
	store, err := openStore(t.Context(), cfg.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	client, err := infobank.New(infobank.Config{BaseURL: cfg.ProviderURL, APIKey: cfg.ProviderKey, APILimiter: infobank.NewAPILimiter(DefaultAPIRate)})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	stop := startTemplateSync(t.Context(), time.Hour, client, store, "SK", slog.New(slog.DiscardHandler))
	deadline := time.Now().Add(30 * time.Second)
	for {
		tpl, err := store.GetTemplate(t.Context(), doctorTemplate.Code)
		if err == nil {
			if tpl.Text != doctorTemplate.Text || tpl.ProviderStatus != "APR" || tpl.Status != herald.TemplateApproved {
				t.Fatalf("synced %+v", tpl)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not synced: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
}
