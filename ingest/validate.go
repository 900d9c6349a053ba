package ingest

import (
	"strings"
	"unicode/utf8"

	herald "github.com/heraldhq/herald"
)

// Field limits. The ids and codes form the stored report's unique key and
// must fit any engine's index; the text is only kept, so a longer one is
// cut rather than refused (the whole body stays in Raw).
const (
	MaxIDLength   = 200 // msgKey, ref
	MaxCodeLength = 32  // serviceType, msgType, reportType, reportCode
	MaxTextLength = 1000
)

// isSeed tells a report decoded from the seed's shape: Bizgo requires
// reportType, the seed's shape has none (see infobank.DecodeReport).
func isSeed(r herald.Report) bool { return r.ReportType == "" }

// validate checks what infobank.DecodeReport leaves open: lengths and
// characters that no store could keep in a key (a NUL cannot be stored in
// PostgreSQL text, and would fail the whole batch). Fields are named as
// the body named them.
func validate(r *herald.Report) error {
	seed := isSeed(*r)
	name := func(bizgo, seedName string) string {
		if seed {
			return seedName
		}
		return bizgo
	}
	ids := []struct {
		field, value string
		max          int
	}{
		{name("msgKey", "messageId"), r.MsgKey, MaxIDLength},
		{"ref", r.Ref, MaxIDLength}, // a seed report without ref has messageId here, checked just above
		{"serviceType", r.ServiceType, MaxCodeLength},
		{"msgType", r.MsgType, MaxCodeLength},
		{"reportType", r.ReportType, MaxCodeLength},
		{name("reportCode", "resultCode"), r.Code, MaxCodeLength},
	}
	for _, f := range ids {
		if len(f.value) > f.max {
			return herald.Invalid(f.field, "is longer than %d bytes", f.max)
		}
		if strings.IndexFunc(f.value, isControl) >= 0 {
			return herald.Invalid(f.field, "must not contain control characters")
		}
	}
	if strings.IndexByte(r.Text, 0) >= 0 {
		return herald.Invalid(name("reportText", "errorText"), "must not contain NUL")
	}
	r.Text = truncate(r.Text, MaxTextLength)
	return nil
}

func isControl(c rune) bool { return c < 0x20 || c == 0x7f }

// truncate cuts s to at most n bytes on a rune boundary, in a copy so
// that the long original is not kept alive in the queue.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.Clone(s[:n])
}
