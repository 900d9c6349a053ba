package template

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	herald "github.com/heraldhq/herald"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", orderShipped, reservation, receipt, "#{", "#{}", "##{a}}", "#{a}#{b}",
		"#{이름 }", "\xff#{a}", "#{a\xff}", "}{#", "#{\uFFFD}", "a#{b}c#{d}e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := Parse(text)
		if err != nil {
			checkParseError(t, text, err)
			return
		}
		if got := p.String(); got != text {
			t.Fatalf("Parse(%q).String() = %q", text, got)
		}
		// Filling each slot with its own #{name} gives the text back, and
		// the text is a rendering of itself.
		self, err := p.Render(func(name string) (string, bool) { return "#{" + name + "}", true })
		if err != nil || self != text {
			t.Fatalf("self-render of %q = %q, %v", text, self, err)
		}
		if !p.Matches(text) {
			t.Fatalf("%q does not match itself", text)
		}
	})
}

func checkParseError(t *testing.T, text string, err error) {
	var pe *PosError
	var ie *herald.InvalidError
	if !errors.As(err, &pe) || !errors.As(err, &ie) || ie.Field != "text" {
		t.Fatalf("Parse(%q) = %v; want a *PosError wrapping a text InvalidError", text, err)
	}
	if pe.Offset < 0 || pe.Offset > utf8.RuneCountInString(text) {
		t.Fatalf("Parse(%q) offset %d out of range", text, pe.Offset)
	}
	if pe.Reason != "invalid UTF-8" && !strings.HasPrefix(string([]rune(text)[pe.Offset:]), "#{") &&
		!strings.HasPrefix(pe.Reason, "variable names") {
		t.Fatalf("Parse(%q) = %v points at no #{", text, err)
	}
}

func FuzzMatches(f *testing.F) {
	f.Add(orderShipped, "김민수", "6012-3456-7890", "김민수님", uint(3))
	f.Add(receipt, "", "#{x}", "", uint(0))
	f.Add("#{a}-#{b}", "x-y", "z", "x-y-z", uint(1))
	f.Add("ab#{x}ab#{y}ab", "ab", "", "abab", uint(7))
	f.Add("고정 문구 😀", "", "", "고정 문구 😀", uint(5))
	f.Add("#{aa}#{b}", "\xff", "가", "a\xffb", uint(9))
	f.Fuzz(func(t *testing.T, tmpl, v1, v2, other string, pos uint) {
		p, err := Parse(tmpl)
		if err != nil {
			return
		}
		rendered, err := p.Render(func(name string) (string, bool) {
			if len(name)%2 == 0 {
				return v1, true
			}
			return v2, true
		})
		if err != nil {
			t.Fatal(err)
		}
		if !p.Matches(rendered) || !Matches(tmpl, rendered) {
			t.Fatalf("rendering %q of %q does not match", rendered, tmpl)
		}
		checkCannotMatch(t, p, rendered, pos)
		ref := reference(p)
		for _, s := range []string{other, rendered + other, other + rendered} {
			if utf8.ValidString(s) && p.Matches(s) != ref.MatchString(s) {
				t.Fatalf("Matches(%q, %q) = %v; the regexp says otherwise", tmpl, s, p.Matches(s))
			}
		}
	})
}

// checkCannotMatch makes edits to a rendering that provably cannot match.
// A slot may absorb an edit in a middle literal, so only the first literal
// (which must be a prefix) and the last (a suffix) are edited. The new
// character is ASCII, so it can equal neither the first byte of a multi-byte
// character (for the prefix) nor its last byte (for the suffix).
func checkCannotMatch(t *testing.T, p *Parsed, rendered string, pos uint) {
	if p.litLen > 0 {
		short := rendered[:int(pos%uint(p.litLen))]
		if p.Matches(short) {
			t.Fatalf("%q is shorter than the literals of %q yet matches", short, p)
		}
	}
	head, tail := p.lits[0], ""
	if len(p.lits) > 1 {
		tail = p.lits[len(p.lits)-1]
	}
	hr, tr := utf8.RuneCountInString(head), utf8.RuneCountInString(tail)
	if hr+tr == 0 {
		return
	}
	i := int(pos % uint(hr+tr))
	off := byteOffset(head, i)
	if i >= hr {
		off = len(rendered) - len(tail) + byteOffset(tail, i-hr)
	}
	r, size := utf8.DecodeRuneInString(rendered[off:])
	repl := "a"
	if r == 'a' {
		repl = "b"
	}
	edited := rendered[:off] + repl + rendered[off+size:]
	if p.Matches(edited) {
		t.Fatalf("%q (edited at byte %d) matches %q", edited, off, p)
	}
}

func byteOffset(s string, runes int) int {
	for off := range s {
		if runes == 0 {
			return off
		}
		runes--
	}
	return len(s)
}

// reference is the obvious, slow definition of matching, to check the fast one.
func reference(p *Parsed) *regexp.Regexp {
	quoted := make([]string, len(p.lits))
	for i, l := range p.lits {
		quoted[i] = regexp.QuoteMeta(l)
	}
	return regexp.MustCompile(`^(?s:` + strings.Join(quoted, `.*`) + `)$`)
}
