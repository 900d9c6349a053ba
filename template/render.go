package template

import (
	"strings"

	herald "github.com/heraldhq/herald"
)

// Render fills every slot with lookup(name). A missing value is an error
// naming the variable, never an empty substitution. Values are inserted
// as they are: a value containing "#{" is not expanded again.
func (p *Parsed) Render(lookup func(name string) (string, bool)) (string, error) {
	// Values are held on the stack so the result string is the only
	// allocation for any template within the 40-variable limit.
	var small [MaxVars]string
	vals := small[:0]
	if len(p.vars) > len(small) {
		vals = make([]string, 0, len(p.vars))
	}
	n := p.litLen
	for _, name := range p.vars {
		v, ok := lookup(name)
		if !ok {
			return "", missingValue(name)
		}
		vals = append(vals, v)
		n += len(v)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(p.lits[0])
	for i, v := range vals {
		b.WriteString(v)
		b.WriteString(p.lits[i+1])
	}
	return b.String(), nil
}

func missingValue(name string) error {
	return &herald.InvalidError{Field: "variables." + name, Message: "no value for #{" + name + "}"}
}

// MemberLookup is the value source for one recipient. Precedence, most
// specific first: the member's own fields (name, phone, id or memberId), then
// the member's attributes, then the campaign constants. Constants are the
// same for everyone, so they act as defaults that per-member data overrides.
// An empty member field counts as missing (an unknown name must not render as
// "님, …"); an attribute or constant set to "" is used, since someone chose it.
func MemberLookup(m herald.Member, constants map[string]string) func(name string) (string, bool) {
	return func(name string) (string, bool) {
		if v := memberField(&m, name); v != "" {
			return v, true
		}
		if v, ok := m.Attributes[name]; ok {
			return v, true
		}
		v, ok := constants[name]
		return v, ok
	}
}

func memberField(m *herald.Member, name string) string {
	switch name {
	case "name":
		return m.Name
	case "phone":
		return m.Phone
	case "id", "memberId":
		return m.ID
	}
	return ""
}

// CheckRenderable validates t and renders it for sample with constants, so
// the API can refuse a campaign whose template needs a variable that nothing
// provides. sample stands for the audience: pass a real member, or one whose
// fields and attribute keys are those every member is known to have.
func CheckRenderable(t herald.Template, constants map[string]string, sample herald.Member) error {
	c, err := Compile(t)
	if err != nil {
		return err
	}
	_, err = c.Render(MemberLookup(sample, constants))
	return err
}
