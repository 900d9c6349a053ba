// Package template parses, validates and renders AlimTalk templates, and
// proves that a rendered message matches its approved template before it is
// sent: Kakao rejects every mismatch per recipient (report 63016), so we
// would rather refuse a campaign up front than burn a send on it.
package template

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	herald "github.com/heraldhq/herald"
)

// PosError is invalid input that points at one character, so a UI can
// highlight it. It unwraps to a *herald.InvalidError, which is what the HTTP
// layer maps to 400.
type PosError struct {
	Field  string // "text", "title", "buttons[0].urlMobile", …
	Offset int    // 0-based rune offset into the field
	Reason string // e.g. "unclosed #{"
}

// Error reports the position 1-based, as an editor would show it.
func (e *PosError) Error() string { return e.invalid().Error() }

// Unwrap makes errors.As(err, **herald.InvalidError) succeed.
func (e *PosError) Unwrap() error { return e.invalid() }

func (e *PosError) invalid() *herald.InvalidError {
	msg := fmt.Sprintf("%s at character %d", e.Reason, e.Offset+1)
	return &herald.InvalidError{Field: e.Field, Message: msg}
}

// Parsed is template text split at its #{variable} slots. It is immutable
// and safe for concurrent use, so one value serves every recipient. Make one
// with Parse; the zero value is not usable.
type Parsed struct {
	lits   []string // len(vars)+1 literal pieces around the slots
	vars   []string // the variable of each slot, in order, repeats included
	litLen int      // total bytes of lits, so Render sizes its buffer once
}

// Parse splits text into literals and #{variable} slots. Names may hold
// ASCII letters, digits, _ and Hangul; anything else is an error at its position.
func Parse(text string) (*Parsed, error) { return parse("text", text) }

func parse(field, s string) (*Parsed, error) {
	if off := invalidUTF8(s); off >= 0 {
		return nil, &PosError{Field: field, Offset: off, Reason: "invalid UTF-8"}
	}
	n := strings.Count(s, "#{") // an upper bound on the slots: one allocation each
	p := &Parsed{lits: make([]string, 0, n+1), vars: make([]string, 0, n)}
	start := 0 // byte offset of the current literal
	for {
		i := strings.Index(s[start:], "#{")
		if i < 0 {
			break
		}
		open := start + i
		name, err := scanName(s[open+2:])
		if err != nil {
			// Counting runes only on failure keeps the common path cheap.
			err.Field, err.Offset = field, err.Offset+utf8.RuneCountInString(s[:open])
			return nil, err
		}
		p.lits = append(p.lits, s[start:open])
		p.vars = append(p.vars, name)
		start = open + len("#{") + len(name) + len("}")
	}
	p.lits = append(p.lits, s[start:])
	for _, l := range p.lits {
		p.litLen += len(l)
	}
	return p, nil
}

// scanName reads a variable name up to its closing brace; s starts just
// after "#{". Offsets in the error are relative to the "#{".
func scanName(s string) (string, *PosError) {
	at := 2
	for i, r := range s {
		switch {
		case r == '}' && i == 0:
			return "", &PosError{Reason: "empty variable name in #{}"}
		case r == '}':
			return s[:i], nil
		case !isNameRune(r):
			reason := fmt.Sprintf("variable names hold only letters, digits, _ and Hangul, not %q", r)
			return "", &PosError{Offset: at, Reason: reason}
		}
		at++
	}
	return "", &PosError{Reason: "unclosed #{"}
}

func isNameRune(r rune) bool {
	return r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' ||
		r >= '0' && r <= '9' || unicode.Is(unicode.Hangul, r)
}

// invalidUTF8 returns the rune offset of the first invalid byte, or -1.
func invalidUTF8(s string) int {
	if utf8.ValidString(s) {
		return -1
	}
	n := 0
	for len(s) > 0 {
		// A literal U+FFFD decodes with size 3; only size 1 marks a bad byte.
		r, size := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && size == 1 {
			break
		}
		s = s[size:]
		n++
	}
	return n
}

// Vars returns the distinct variable names in order of first use: what a
// caller must supply to render.
func (p *Parsed) Vars() []string {
	out := make([]string, 0, len(p.vars))
	for _, v := range p.vars {
		if !contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// String re-serialises the template; Parse(p.String()) gives back p.
func (p *Parsed) String() string {
	var b strings.Builder
	b.WriteString(p.lits[0])
	for i, v := range p.vars {
		b.WriteString("#{" + v + "}")
		b.WriteString(p.lits[i+1])
	}
	return b.String()
}

// literalRunes counts the characters outside slots: all that can be known
// about the length before values are known.
func (p *Parsed) literalRunes() int {
	n := 0
	for _, l := range p.lits {
		n += utf8.RuneCountInString(l)
	}
	return n
}
