package main

import "testing"

func TestGCSettings(t *testing.T) {
	env := func(set ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for _, s := range set {
				if s == k {
					return "x", true
				}
			}
			return "", false
		}
	}
	cases := []struct {
		name    string
		set     []string
		percent int
		limit   int64
	}{
		{"defaults", nil, serveGCPercent, serveMemoryLimit},
		{"GOGC set", []string{"GOGC"}, -1, serveMemoryLimit},
		{"GOMEMLIMIT set", []string{"GOMEMLIMIT"}, serveGCPercent, -1},
		{"both set", []string{"GOGC", "GOMEMLIMIT"}, -1, -1},
	}
	for _, c := range cases {
		p, l := gcSettings(env(c.set...))
		if p != c.percent || l != c.limit {
			t.Errorf("%s: got GOGC %d, limit %d; want %d, %d", c.name, p, l, c.percent, c.limit)
		}
	}
}
