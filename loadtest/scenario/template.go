package scenario

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// partKind is what one piece of a template renders.
type partKind uint8

const (
	partLiteral partKind = iota
	partVar
	partEnv
	partRandomString
	partRandomNumber
)

// part is one piece of a compiled template.
type part struct {
	kind   partKind
	text   string // literal text, variable or environment name
	lo, hi int    // $randomString length; $randomNumber bounds
	escape bool   // the value sits inside a JSON string
}

// Template is text with Artillery's {{ expression }} slots, compiled once:
// {{ name }} is a variable, {{ $processEnvironment.NAME }} (or $env.NAME)
// an environment variable fixed at start, {{ $randomString(n) }} and
// {{ $randomNumber(lo, hi) }} fresh values. JavaScript is not evaluated.
type Template struct {
	Source string
	Line   int
	parts  []part
}

// Built-in bounds.
const (
	defaultRandomString = 10
	maxRandomString     = 1024
)

// parseTemplate compiles s, found at line of the scenario.
func parseTemplate(s string, line int) (*Template, error) {
	t := &Template{Source: s, Line: line}
	rest := s
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			t.literal(rest)
			return t, nil
		}
		t.literal(rest[:i])
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return nil, &ParseError{Line: line, Msg: fmt.Sprintf("unclosed {{ in %q", s)}
		}
		p, err := parseExpr(strings.TrimSpace(rest[i+2 : i+2+j]))
		if err != nil {
			return nil, &ParseError{Line: line, Msg: err.Error()}
		}
		t.parts = append(t.parts, p)
		rest = rest[i+2+j+2:]
	}
}

// literal appends text, merged with a literal before it.
// Literals are stored as they are sent: a JSON body's are escaped already.
func (t *Template) literal(s string) {
	if s == "" {
		return
	}
	if n := len(t.parts); n > 0 && t.parts[n-1].kind == partLiteral {
		t.parts[n-1].text += s
		return
	}
	t.parts = append(t.parts, part{kind: partLiteral, text: s})
}

// parseExpr compiles the inside of {{ }}.
func parseExpr(e string) (part, error) {
	for _, prefix := range []string{"$processEnvironment.", "$env."} {
		if name, ok := strings.CutPrefix(e, prefix); ok {
			if !isName(name) {
				return part{}, fmt.Errorf("{{ %s }}: want an environment variable name", e)
			}
			return part{kind: partEnv, text: name}, nil
		}
	}
	if strings.HasPrefix(e, "$") {
		return parseBuiltin(e)
	}
	if !isName(e) {
		return part{}, fmt.Errorf("{{ %s }}: herald substitutes variables and built-ins ($randomString, $randomNumber, $processEnvironment), it does not evaluate JavaScript", e)
	}
	return part{kind: partVar, text: e}, nil
}

// parseBuiltin compiles $randomString(n) and $randomNumber(lo, hi).
func parseBuiltin(e string) (part, error) {
	name, args, ok := strings.Cut(e, "(")
	args, closed := strings.CutSuffix(args, ")")
	if !ok || !closed {
		return part{}, fmt.Errorf("{{ %s }}: unknown built-in", e)
	}
	nums, err := intArgs(args)
	if err != nil {
		return part{}, fmt.Errorf("{{ %s }}: %w", e, err)
	}
	switch {
	case name == "$randomString" && len(nums) == 0:
		return part{kind: partRandomString, lo: defaultRandomString}, nil
	case name == "$randomString" && len(nums) == 1 && nums[0] > 0 && nums[0] <= maxRandomString:
		return part{kind: partRandomString, lo: nums[0]}, nil
	case (name == "$randomNumber" || name == "$randomInt") && len(nums) == 2 && nums[0] <= nums[1]:
		return part{kind: partRandomNumber, lo: nums[0], hi: nums[1]}, nil
	}
	return part{}, fmt.Errorf("{{ %s }}: want $randomString(), $randomString(1..%d) or $randomNumber(lo, hi) with lo ≤ hi", e, maxRandomString)
}

func intArgs(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	fields := strings.Split(s, ",")
	out := make([]int, len(fields))
	for i, f := range fields {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < -1<<31 || n > 1<<31 {
			return nil, fmt.Errorf("argument %q is not a whole number", strings.TrimSpace(f))
		}
		out[i] = n
	}
	return out, nil
}

// isName reports whether s is a variable name: letters, digits, _ . -
func isName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		ok := c == '_' || c == '.' || c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !ok {
			return false
		}
	}
	return true
}

// Vars lists the variables the template reads.
func (t *Template) Vars() []string {
	var out []string
	for _, p := range t.parts {
		if p.kind == partVar {
			out = append(out, p.text)
		}
	}
	return out
}

// bind replaces the environment slots with their values, looked up once.
func (t *Template) bind(env func(string) (string, bool)) (*Template, error) {
	out := &Template{Source: t.Source, Line: t.Line, parts: make([]part, 0, len(t.parts))}
	for _, p := range t.parts {
		switch p.kind {
		case partLiteral:
			out.literal(p.text)
		case partEnv:
			v, ok := env(p.text)
			if !ok {
				return nil, &ParseError{Line: t.Line, Msg: fmt.Sprintf("{{ $processEnvironment.%s }}: %s is not set", p.text, p.text)}
			}
			out.literal(string(appendValue(nil, v, p.escape)))
		default:
			out.parts = append(out.parts, p)
		}
	}
	return out, nil
}

// prefix returns the literal text the template starts with.
func (t *Template) prefix() string {
	if len(t.parts) > 0 && t.parts[0].kind == partLiteral {
		return t.parts[0].text
	}
	return ""
}

// render appends the template's text for one arrival's variables.
func (t *Template) render(dst []byte, vars map[string]string) []byte {
	for _, p := range t.parts {
		switch p.kind {
		case partLiteral:
			dst = append(dst, p.text...)
		case partRandomNumber:
			dst = strconv.AppendInt(dst, int64(p.lo)+rand.Int64N(int64(p.hi)-int64(p.lo)+1), 10)
		case partRandomString:
			dst = appendRandom(dst, p.lo)
		default: // partVar; partEnv never remains after bind
			dst = appendValue(dst, vars[p.text], p.escape)
		}
	}
	return dst
}

// Render renders the template for one arrival's variables.
func (t *Template) Render(vars map[string]string) string { return string(t.render(nil, vars)) }

func appendValue(dst []byte, v string, escape bool) []byte {
	if escape {
		return appendJSONEscaped(dst, v)
	}
	return append(dst, v...)
}

const randomAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func appendRandom(dst []byte, n int) []byte {
	for range n {
		dst = append(dst, randomAlphabet[rand.IntN(len(randomAlphabet))])
	}
	return dst
}

// appendJSONEscaped appends s escaped for the inside of a JSON string.
func appendJSONEscaped(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
