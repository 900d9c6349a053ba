package main

import (
	"errors"
	"io"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
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
	}
	for field, change := range cases {
		c := good
		change(&c)
		var inv *herald.InvalidError
		if err := c.Validate(); !errors.As(err, &inv) || inv.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	if _, err := openStore(t.Context(), "mysql://root@localhost/x"); err == nil {
		t.Error("mysql:// accepted before it is supported")
	}
	if got := redactDSN("postgres://u:secret@db/h"); got != "postgres://…@db/h" {
		t.Errorf("redactDSN = %q", got)
	}
}
