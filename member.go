package herald

import (
	"strings"
	"time"
	"unicode/utf8"
)

// MemberStatus says whether a member may receive messages.
type MemberStatus string

// Member statuses.
const (
	MemberActive    MemberStatus = "active"
	MemberWithdrawn MemberStatus = "withdrawn"
)

// Member is one of the customer's users, keyed by the customer's own id.
type Member struct {
	ID         string            `json:"id"`
	Phone      string            `json:"phone"`
	Name       string            `json:"name"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Status     MemberStatus      `json:"status"`
	UpdatedAt  time.Time         `json:"updatedAt"`
}

// Limits on member fields.
const (
	MaxMemberIDLen = 128
	MaxNameLen     = 200
)

// Validate normalises the phone and status and checks every field.
func (m *Member) Validate() error {
	m.ID = strings.TrimSpace(m.ID)
	switch {
	case m.ID == "":
		return Invalid("id", "is required")
	case len(m.ID) > MaxMemberIDLen:
		return Invalid("id", "is longer than %d bytes", MaxMemberIDLen)
	case !utf8.ValidString(m.ID):
		return Invalid("id", "is not valid UTF-8")
	}
	phone, err := NormalizePhone(m.Phone)
	if err != nil {
		return err
	}
	m.Phone = phone
	if utf8.RuneCountInString(m.Name) > MaxNameLen || !utf8.ValidString(m.Name) {
		return Invalid("name", "must be valid UTF-8 of at most %d characters", MaxNameLen)
	}
	switch m.Status {
	case "":
		m.Status = MemberActive
	case MemberActive, MemberWithdrawn:
	default:
		return Invalid("status", "must be %q or %q, not %q", MemberActive, MemberWithdrawn, m.Status)
	}
	for k, v := range m.Attributes {
		if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return Invalid("attributes", "keys must be non-empty and keys and values valid UTF-8")
		}
	}
	return nil
}

// NormalizePhone accepts a Korean mobile number written as 010-1234-5678,
// 01012345678 or +82 10 1234 5678 and returns the 11-digit (or 10-digit for
// old 01x prefixes) form without separators.
func NormalizePhone(s string) (string, error) {
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '-' || r == ' ' || r == '.' || r == '(' || r == ')':
		case r == '+' && i == 0:
		default:
			return "", Invalid("phone", "%q is not a Korean mobile number", s)
		}
	}
	d := b.String()
	if strings.HasPrefix(d, "82") && strings.HasPrefix(strings.TrimSpace(s), "+") {
		d = "0" + strings.TrimPrefix(d, "82")
	}
	if !isKoreanMobile(d) {
		return "", Invalid("phone", "%q is not a Korean mobile number", s)
	}
	return d, nil
}

func isKoreanMobile(d string) bool {
	if len(d) != 10 && len(d) != 11 {
		return false
	}
	if d[:2] != "01" {
		return false
	}
	switch d[2] {
	case '0':
		return len(d) == 11 // 010 numbers are always 11 digits
	case '1', '6', '7', '8', '9':
		return true
	}
	return false
}

// LastByID drops every member whose id appears again later in the slice, so
// that the last occurrence wins. The order of the survivors is kept.
func LastByID(members []Member) []Member {
	seen := make(map[string]struct{}, len(members))
	keep := make([]bool, len(members))
	dups := 0
	for i := len(members) - 1; i >= 0; i-- {
		if _, ok := seen[members[i].ID]; ok {
			dups++
			continue
		}
		seen[members[i].ID] = struct{}{}
		keep[i] = true
	}
	if dups == 0 {
		return members
	}
	out := make([]Member, 0, len(members)-dups)
	for i, m := range members {
		if keep[i] {
			out = append(out, m)
		}
	}
	return out
}
