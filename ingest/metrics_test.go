package ingest

import (
	"fmt"
	"testing"
)

// Report codes come from outside: the label stays bounded.
func TestCodeLabelsAreBounded(t *testing.T) {
	t.Parallel()
	var c codeLabels
	for _, tc := range []struct{ code, want string }{
		{"10000", "10000"}, {"6ME09", "6ME09"}, {"", "other"}, {"123456789", "other"}, {"63 019", "other"}, {"코드", "other"},
	} {
		if got := c.label(tc.code); got != tc.want {
			t.Errorf("label(%q) = %q, want %q", tc.code, got, tc.want)
		}
	}
	for i := range 2 * maxCodeLabels {
		c.label(fmt.Sprintf("C%d", i))
	}
	if got := c.label("NEW1"); got != "other" {
		t.Errorf("a code past the bound got %q, want other", got)
	}
	if got := c.label("10000"); got != "10000" {
		t.Errorf("a code known before the bound got %q, want itself", got)
	}
}
