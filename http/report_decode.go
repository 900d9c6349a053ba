package http

import (
	"strings"
	"time"
	"unicode/utf8"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
)

// decodeReport parses a report body in either shape, exactly as
// infobank.DecodeReport does (FuzzReportDecode holds them to that), but
// without reflection for the bodies providers send: a flat object of
// string fields without escapes. The body becomes one string and every
// field a piece of it: one allocation for all the fields. Anything else —
// escapes, numbers, nesting, a key that differs from a known one only by
// case (encoding/json would take it) — goes to infobank.DecodeReport.
func decodeReport(body []byte) (herald.Report, error) {
	var f reportFields
	if !f.scan(body) {
		return infobank.DecodeReport(body)
	}
	var r herald.Report
	var err error
	if f.MsgKey == "" && f.hasMessageID {
		r, err = seedReport(&f)
	} else {
		r, err = infobank.ReportFromBody(f.ReportBody)
	}
	r.Raw = body
	return r, err
}

// reportFields holds both shapes' fields, as infobank's decoder does.
type reportFields struct {
	infobank.ReportBody
	MessageID, ResultCode, ErrorText string
	hasMessageID                     bool
}

// seedReport maps the seed's shape as infobank.DecodeReport does.
func seedReport(f *reportFields) (herald.Report, error) {
	for _, p := range [][2]string{{"messageId", f.MessageID}, {"resultCode", f.ResultCode}, {"reportTime", f.ReportTime}} {
		if p[1] == "" {
			return herald.Report{}, herald.Invalid(p[0], "is required")
		}
	}
	// The seed's own layout first: no string matches it and RFC 3339 both,
	// so the result is ParseTime's, without its failed first try.
	at, err := time.ParseInLocation(infobank.SeedTimeLayout, f.ReportTime, infobank.KST)
	if err != nil {
		if at, err = infobank.ParseTime(f.ReportTime); err != nil {
			return herald.Report{}, herald.Invalid("reportTime", "%q is not a time like %s", f.ReportTime, infobank.SeedTimeLayout)
		}
	}
	r := herald.Report{MsgKey: f.MessageID, Ref: f.Ref, ServiceType: infobank.ServiceAlim,
		ReportTime: at, Code: f.ResultCode, Text: f.ErrorText}
	if r.Ref == "" {
		r.Ref = r.MsgKey
	}
	if r.Code == infobank.SeedDelivered {
		r.Code = herald.ReportDelivered
	}
	return r, nil
}

// field returns where a known key's value goes (nil for one that is not
// kept), and whether the key is known at all.
func (f *reportFields) field(key string) (dst *string, known bool) {
	switch key {
	case "msgKey":
		return &f.MsgKey, true
	case "serviceType":
		return &f.ServiceType, true
	case "msgType":
		return &f.MsgType, true
	case "sendTime":
		return &f.SendTime, true
	case "reportTime":
		return &f.ReportTime, true
	case "reportType":
		return &f.ReportType, true
	case "reportCode":
		return &f.ReportCode, true
	case "reportText":
		return &f.ReportText, true
	case "carrier":
		return &f.Carrier, true
	case "ref":
		return &f.Ref, true
	case "messageId":
		return &f.MessageID, true
	case "resultCode":
		return &f.ResultCode, true
	case "errorText":
		return &f.ErrorText, true
	case "brandtalkType":
		return nil, true // in the seed's shape, unused
	}
	return nil, false
}

// knownKeys are the keys encoding/json would match case-insensitively.
var knownKeys = []string{"msgKey", "serviceType", "msgType", "sendTime", "reportTime", "reportType", "reportCode",
	"reportText", "carrier", "ref", "messageId", "resultCode", "errorText", "brandtalkType"}

// scan fills f from a flat JSON object of string (or null) values without
// escapes; false when the body is anything else.
func (f *reportFields) scan(body []byte) bool {
	s := string(body) // the one allocation: every field is a piece of it
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return false
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return skipSpace(s, i+1) == len(s)
	}
	for {
		key, next, ok := scanString(s, i)
		if !ok {
			return false
		}
		i = skipSpace(s, next)
		if i >= len(s) || s[i] != ':' {
			return false
		}
		i = skipSpace(s, i+1)
		dst, known := f.field(key)
		if !known {
			for _, k := range knownKeys {
				if strings.EqualFold(k, key) {
					return false // encoding/json would fill that field
				}
			}
		}
		switch {
		case strings.HasPrefix(s[i:], "null"):
			i += 4
			if key == "messageId" {
				f.hasMessageID, f.MessageID = false, ""
			}
		case i < len(s) && s[i] == '"':
			v, next, ok := scanString(s, i)
			if !ok {
				return false
			}
			i = next
			if dst != nil {
				*dst = v
			}
			if key == "messageId" {
				f.hasMessageID = true
			}
		default:
			return false // a number, an object…: not a report this path knows
		}
		i = skipSpace(s, i)
		if i >= len(s) {
			return false
		}
		switch s[i] {
		case ',':
			i = skipSpace(s, i+1)
		case '}':
			return skipSpace(s, i+1) == len(s)
		default:
			return false
		}
	}
}

// scanString reads the string starting at s[i] == '"'; false when it has
// escapes, control characters or invalid UTF-8 (encoding/json's business).
func scanString(s string, i int) (string, int, bool) {
	if i >= len(s) || s[i] != '"' {
		return "", 0, false
	}
	start := i + 1
	ascii := true
	for j := start; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			v := s[start:j]
			if !ascii && !utf8.ValidString(v) {
				return "", 0, false
			}
			return v, j + 1, true
		case c == '\\' || c < 0x20:
			return "", 0, false
		case c >= 0x80:
			ascii = false
		}
	}
	return "", 0, false
}

func skipSpace(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}
