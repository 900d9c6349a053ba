package mockprovider_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/mockprovider"
)

func TestConfigValidateNamesTheField(t *testing.T) {
	t.Parallel()
	cases := map[string]func(*mockprovider.Config){
		"tps":               func(c *mockprovider.Config) { c.TPS = 0 },
		"refuseRate":        func(c *mockprovider.Config) { c.RefuseRate = 1.5 },
		"hangRate":          func(c *mockprovider.Config) { c.RefuseRate, c.HangRate = 0.6, 0.6 },
		"uncertainRate":     func(c *mockprovider.Config) { c.NotUserRate, c.UncertainRate = 0.6, 0.6 },
		"latency":           func(c *mockprovider.Config) { c.Latency = -1 },
		"reportURL":         func(c *mockprovider.Config) { c.Reports = mockprovider.ReportsWebhook },
		"reports":           func(c *mockprovider.Config) { c.Reports = "email" },
		"reportFormat":      func(c *mockprovider.Config) { c.ReportFormat = "xml" },
		"reportConcurrency": func(c *mockprovider.Config) { c.ReportConcurrency = 0 },
		"reportRetries":     func(c *mockprovider.Config) { c.ReportRetries = -2 },
		"reportBackoff": func(c *mockprovider.Config) {
			c.ReportRetries, c.ReportBackoff = mockprovider.ReportRetriesUntilAcked, 0
		},
		"templates[1].code": func(c *mockprovider.Config) {
			c.Templates = []herald.Template{{Code: "A", Text: "x"}, {Code: "A", Text: "y"}}
		},
		"templates[0].text": func(c *mockprovider.Config) { c.Templates = []herald.Template{{Code: "A", Text: "#{"}} },
	}
	for field, edit := range cases {
		cfg := mockprovider.DefaultConfig()
		edit(&cfg)
		var ie *herald.InvalidError
		if err := cfg.Validate(); !errors.As(err, &ie) || ie.Field != field {
			t.Errorf("%s: err = %v", field, err)
		}
	}
	if err := mockprovider.DefaultConfig().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

func TestLoadTemplatesJSONAndYAML(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{
		"t.json": `[{"code":"ORDER","text":"Hi #{name}","buttons":[{"type":"WL","name":"Go","urlMobile":"https://x"}]}]`,
		"t.yaml": "- code: ORDER\n  text: \"Hi #{name}\"\n  buttons:\n    - {type: WL, name: Go, urlMobile: \"https://x\"}\n",
	}
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		ts, err := mockprovider.LoadTemplates(path)
		if err != nil || len(ts) != 1 || ts[0].Code != "ORDER" || ts[0].Text != "Hi #{name}" ||
			len(ts[0].Buttons) != 1 || ts[0].Buttons[0].URLMobile != "https://x" {
			t.Errorf("%s: %+v, %v", name, ts, err)
		}
	}
	if _, err := mockprovider.ParseTemplates([]byte(`{"code":"x"}`)); err == nil {
		t.Error("an object, not a list, was accepted")
	}
}
