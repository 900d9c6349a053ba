package infobank

import (
	"errors"
	"strings"
	"testing"

	herald "github.com/heraldhq/herald"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := Config{BaseURL: "https://mars.ibapi.kr", APIKey: "k"}
	cases := map[string]func(*Config){
		"baseURL":     func(c *Config) { c.BaseURL = "mars.ibapi.kr" },
		"apiKey":      func(c *Config) { c.APIKey = "" },
		"timeout":     func(c *Config) { c.Timeout = -1 },
		"dialTimeout": func(c *Config) { c.DialTimeout = -1 },
		"maxConns":    func(c *Config) { c.MaxConns = -1 },
	}
	for field, edit := range cases {
		c := ok
		edit(&c)
		var ie *herald.InvalidError
		if _, err := New(c); !errors.As(err, &ie) || ie.Field != field {
			t.Errorf("%s: err = %v", field, err)
		}
	}
	c, err := New(Config{BaseURL: "http://127.0.0.1:1/", APIKey: "secret-key"})
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.Timeout != DefaultTimeout || c.cfg.MaxConns != DefaultMaxConns || strings.HasSuffix(c.cfg.BaseURL, "/") {
		t.Errorf("defaults not applied: %+v", c.cfg)
	}
	for _, o := range c.Send(t.Context(), herald.SendBatch{Destinations: []herald.Destination{{To: "01012345678"}}}) {
		if strings.Contains(o.Text, "secret-key") {
			t.Errorf("outcome text reveals the key: %q", o.Text)
		}
	}
}
