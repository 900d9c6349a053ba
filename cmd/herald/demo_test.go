package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/mockprovider"
)

// TestDemo runs the whole demo small and fast: built-in mock, real HTTP,
// real reports, SQLite.
func TestDemo(t *testing.T) {
	t.Parallel()
	cfg := demoConfig{Members: 300, Withdraw: 3, Listen: "127.0.0.1:0", LogLevel: "error", Timeout: time.Minute,
		Send: sendConfig{TPS: 1000, Workers: 16, BatchSize: 1, LeaseTTL: time.Minute}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	v, err := runDemo(t.Context(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK || v.Total != 300 || v.Duplicates != 0 || v.Delivered+v.Skipped != 300 || v.Skipped > 3 || v.MaxWindow > 1000 {
		t.Fatalf("verdict %+v", v)
	}
}

func TestConfigErrorsNameTheSetting(t *testing.T) {
	t.Parallel()
	good := serveConfig{DB: "sqlite:x.db", Listen: "127.0.0.1:8080", AdminTokens: []string{"0123456789abcdef"},
		MaxImportBytes: 1, ShutdownTimeout: time.Second}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	cases := map[string]func(*serveConfig){
		"admin-token":  func(c *serveConfig) { c.AdminTokens = []string{"short"} },
		"listen":       func(c *serveConfig) { c.Listen = "8080" },
		"provider-key": func(c *serveConfig) { c.Send.ProviderURL = "https://mars.ibapi.kr" },
		"provider-url": func(c *serveConfig) { c.Send.ProviderURL = "mars.ibapi.kr" },
		"reports":      func(c *serveConfig) { c.Provider.Reports = "email" },
		"api-rate":     func(c *serveConfig) { c.Provider.APIRate = 6 },
		"sender-key": func(c *serveConfig) {
			c.Send.ProviderURL, c.Send.ProviderKey, c.Provider.TemplateSync = "https://mars.ibapi.kr", "k", time.Minute
		},
		"max-connections": func(c *serveConfig) { c.MaxConnections = -1 },
		"debug-listen":    func(c *serveConfig) { c.DebugListen = "0.0.0.0:6060" },
		"report-allow-from": func(c *serveConfig) {
			c.Reports = reportConfig{Tokens: []string{"0123456789abcdef"}, AllowFrom: []string{"10.0.0.0/33"}}
		},
		"report-trusted-proxies": func(c *serveConfig) {
			c.Reports = reportConfig{Tokens: []string{"0123456789abcdef"}, TrustedProxies: []string{"10.0.0.1"}}
		},
		"report-spool-after": func(c *serveConfig) {
			c.Reports = reportConfig{Tokens: []string{"0123456789abcdef"}, SpoolDir: "/tmp/x", SpoolAfter: time.Minute}
		},
	}
	for field, change := range cases {
		c := good
		change(&c)
		var inv *herald.InvalidError
		if err := c.Validate(); !errors.As(err, &inv) || inv.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	// An unreachable MySQL host is an error that does not show the password.
	if _, err := openStore(t.Context(), "mysql://root:s3cret@127.0.0.1:1/x?timeout=1s"); err == nil ||
		strings.Contains(err.Error(), "s3cret") {
		t.Errorf("mysql:// on an unreachable host: %v", err)
	}
	if got := redactDSN("postgres://u:secret@db/h"); got != "postgres://…@db/h" {
		t.Errorf("redactDSN = %q", got)
	}
}

// TestDemoVerdictFailsOnUnplannedFailures: an external provider whose
// recipients are none of them KakaoTalk users reports every message as
// failed (63019); the verdict must not be ok, and must say why. Its
// approved text differs from demoTemplate's: the demo takes the provider's
// copy (template sync), so no message is refused as a mismatch (63016).
func TestDemoVerdictFailsOnUnplannedFailures(t *testing.T) {
	t.Parallel()
	listen := freeLoopback(t)
	mc := mockprovider.DefaultConfig()
	wrong := demoTemplate()
	wrong.Text = "#{name}님, 다른 문구입니다."
	mc.APIKey, mc.TPS, mc.Templates = "demo-test-key", 1000, []herald.Template{wrong}
	mc.Reports, mc.ReportURL, mc.ReportSecret = mockprovider.ReportsWebhook, "http://"+listen+"/v1/reports", "demo-test-secret"
	mc.ReportDelay, mc.NotUserRate = 10*time.Millisecond, 1
	m, err := mockprovider.New(mc, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m)
	defer srv.Close()
	m.Start(t.Context())
	defer m.Stop(context.Background())
	cfg := demoConfig{Members: 50, Listen: listen, LogLevel: "error", Timeout: time.Minute, ReportSecret: mc.ReportSecret,
		Send: sendConfig{TPS: 1000, Workers: 8, BatchSize: 1, ProviderURL: srv.URL, ProviderKey: mc.APIKey}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	v, err := runDemo(t.Context(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	problems := strings.Join(v.Problems, "\n")
	if v.OK || v.Failed != 50 || !strings.Contains(problems, "63019") || strings.Contains(problems, "63016") {
		t.Fatalf("verdict %+v: want not ok, 50 failed, the code 63019 named and no text mismatch (63016)", v)
	}
}

func freeLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
