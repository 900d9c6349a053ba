package template

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	herald "github.com/heraldhq/herald"
)

// linkField is a button field that may hold #{variables}: Kakao allows them
// in button links but not in button names.
type linkField struct {
	name string // JSON name, used in error fields
	web  bool   // must be an http(s) URL; app schemes are free-form
	ptr  func(*herald.Button) *string
}

var linkFields = [...]linkField{
	{"urlMobile", true, func(b *herald.Button) *string { return &b.URLMobile }},
	{"urlPc", true, func(b *herald.Button) *string { return &b.URLPC }},
	{"schemeIos", false, func(b *herald.Button) *string { return &b.SchemeIOS }},
	{"schemeAndroid", false, func(b *herald.Button) *string { return &b.SchemeAndroid }},
}

// links holds a button's parsed link fields, nil where the field is empty.
type links [len(linkFields)]*Parsed

// Compiled is a validated template with its text, title and button links
// parsed once, ready to render for every recipient of a campaign.
type Compiled struct {
	Text    *Parsed
	Title   *Parsed // nil when the template has no emphasis title
	buttons []herald.Button
	links   []links
}

// Message is a template rendered for one recipient: what goes to the provider.
type Message struct {
	Text    string
	Title   string
	Buttons []herald.Button
}

// Compile validates t (see Validate) and parses every part that may hold
// variables. The emphasis title may hold variables (e.g. "#{amount}원"),
// which Kakao allows; it is matched like the text (report 63028).
func Compile(t herald.Template) (*Compiled, error) {
	if err := checkHeader(t); err != nil {
		return nil, err
	}
	if strings.TrimSpace(t.Text) == "" {
		return nil, herald.Invalid("text", "is required")
	}
	c := &Compiled{buttons: slices.Clone(t.Buttons)}
	var err error
	if c.Text, err = parseField("text", t.Text, MaxTextLen); err != nil {
		return nil, err
	}
	if t.Title != "" {
		if c.Title, err = parseField("title", t.Title, MaxTitleLen); err != nil {
			return nil, err
		}
	}
	if c.links, err = compileButtons(t.Buttons); err != nil {
		return nil, err
	}
	// Distinct names, because a repeated #{name} is one parameter to fill
	// (NHN's templateParameter has one key per name).
	if n := len(c.Vars()); n > MaxVars {
		return nil, herald.Invalid("text", "uses %d variables; at most %d are allowed", n, MaxVars)
	}
	return c, nil
}

func compileButtons(bs []herald.Button) ([]links, error) {
	if len(bs) > MaxButtons {
		return nil, herald.Invalid("buttons", "has %d buttons; at most %d are allowed", len(bs), MaxButtons)
	}
	out := make([]links, len(bs))
	for i, b := range bs {
		field := fmt.Sprintf("buttons[%d]", i)
		if err := checkButton(field, i, b); err != nil {
			return nil, err
		}
		for j, lf := range linkFields {
			if v := *lf.ptr(&b); v != "" {
				p, err := compileLink(field+"."+lf.name, v, lf.web)
				if err != nil {
					return nil, err
				}
				out[i][j] = p
			}
		}
	}
	return out, nil
}

// compileLink parses a link. A web link must fix its scheme before any
// variable, so a value can never turn it into javascript: or an app scheme.
func compileLink(field, s string, web bool) (*Parsed, error) {
	p, err := parseField(field, s, MaxURLLen)
	if err != nil {
		return nil, err
	}
	if web && !hasHTTPPrefix(p.lits[0]) {
		return nil, herald.Invalid(field, "must start with http:// or https:// before any variable")
	}
	return p, nil
}

func hasHTTPPrefix(s string) bool {
	for _, pre := range []string{"http://", "https://"} {
		if len(s) >= len(pre) && strings.EqualFold(s[:len(pre)], pre) {
			return true
		}
	}
	return false
}

// Vars returns the distinct variables of text, title and button links, in
// order of first use.
func (c *Compiled) Vars() []string {
	out := c.Text.Vars()
	add := func(p *Parsed) {
		for _, v := range p.vars {
			if !contains(out, v) {
				out = append(out, v)
			}
		}
	}
	if c.Title != nil {
		add(c.Title)
	}
	for _, l := range c.links {
		for _, p := range l {
			if p != nil {
				add(p)
			}
		}
	}
	return out
}

// Render fills text, title and button links for one recipient and checks
// the lengths that depend on the values.
func (c *Compiled) Render(lookup func(name string) (string, bool)) (Message, error) {
	var m Message
	var err error
	if m.Text, err = c.Text.Render(lookup); err != nil {
		return Message{}, err
	}
	if err = CheckLength(m.Text); err != nil {
		return Message{}, err
	}
	if c.Title != nil {
		if m.Title, err = c.Title.Render(lookup); err != nil {
			return Message{}, err
		}
		if err = checkLen("title", m.Title, MaxTitleLen); err != nil {
			return Message{}, err
		}
	}
	if m.Buttons, err = c.renderButtons(lookup); err != nil {
		return Message{}, err
	}
	return m, nil
}

func (c *Compiled) renderButtons(lookup func(string) (string, bool)) ([]herald.Button, error) {
	out := slices.Clone(c.buttons) // the caller may keep or change them
	for i := range out {
		for j, p := range c.links[i] {
			if p == nil {
				continue
			}
			v, err := p.Render(lookup)
			if err != nil {
				return nil, err
			}
			if utf8.RuneCountInString(v) > MaxURLLen { // name the field only when needed
				return nil, checkLen(fmt.Sprintf("buttons[%d].%s", i, linkFields[j].name), v, MaxURLLen)
			}
			*linkFields[j].ptr(&out[i]) = v
		}
	}
	return out, nil
}

// Mismatch returns the first part of m that differs from the template
// ("text", "title" or "buttons"), or "" when m matches. A provider maps these
// to reports 63016, 63028 and 63027.
func (c *Compiled) Mismatch(m Message) string {
	switch {
	case !c.Text.Matches(m.Text):
		return "text"
	case !matchesOptional(c.Title, m.Title):
		return "title"
	case !c.buttonsMatch(m.Buttons):
		return "buttons"
	}
	return ""
}

func matchesOptional(p *Parsed, s string) bool {
	if p == nil {
		return s == ""
	}
	return p.Matches(s)
}

func (c *Compiled) buttonsMatch(bs []herald.Button) bool {
	if len(bs) != len(c.buttons) {
		return false
	}
	for i, got := range bs {
		want := c.buttons[i]
		for j, lf := range linkFields {
			if !matchesOptional(c.links[i][j], *lf.ptr(&got)) {
				return false
			}
			*lf.ptr(&got), *lf.ptr(&want) = "", "" // links done; compare the rest
		}
		if got != want {
			return false
		}
	}
	return true
}
