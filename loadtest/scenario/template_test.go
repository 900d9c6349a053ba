package scenario

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func mustTemplate(t *testing.T, s string) *Template {
	t.Helper()
	tpl, err := parseTemplate(s, 1)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func TestTemplateVariables(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"messageId": "h1-2", "a.b": "dotted"}
	for src, want := range map[string]string{
		"{{ messageId }}":            "h1-2",
		"id={{messageId}}&x={{a.b}}": "id=h1-2&x=dotted",
		"no slots":                   "no slots",
		"{{ missing }}!":             "!",
		"}} {{ messageId }} {":       "}} h1-2 {",
	} {
		if got := mustTemplate(t, src).Render(vars); got != want {
			t.Errorf("%q rendered %q, want %q", src, got, want)
		}
	}
}

func TestTemplateBuiltins(t *testing.T) {
	t.Parallel()
	for range 100 {
		s := mustTemplate(t, "{{ $randomString() }}-{{ $randomString(3) }}-{{ $randomNumber(5, 7) }}-{{ $randomInt(-1,-1) }}").Render(nil)
		m := regexp.MustCompile(`^([a-zA-Z0-9]{10})-([a-zA-Z0-9]{3})-([5-7])--1$`).FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("rendered %q", s)
		}
	}
}

func TestTemplateEnvironmentBoundOnce(t *testing.T) {
	t.Parallel()
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"REPORT_TOKEN": "tok", "QUOTE": `a"b`}[k]
		return v, ok
	}
	tpl, err := mustTemplate(t, "Bearer {{ $processEnvironment.REPORT_TOKEN }} {{ $env.QUOTE }}").bind(env)
	if err != nil {
		t.Fatal(err)
	}
	if got := tpl.Render(nil); got != `Bearer tok a"b` {
		t.Fatalf("rendered %q", got)
	}
	if len(tpl.parts) != 1 {
		t.Fatalf("bound template has %d parts, want one literal", len(tpl.parts))
	}
	if _, err := mustTemplate(t, "{{ $env.NOPE }}").bind(env); err == nil || !strings.Contains(err.Error(), "NOPE is not set") {
		t.Fatalf("err = %v", err)
	}
}

func compileJSON(t *testing.T, src string) *Template {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	tpl, err := jsonTemplate(n.Content[0])
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func TestJSONBodyEscapesValues(t *testing.T) {
	t.Parallel()
	tpl := compileJSON(t, `
messageId: "{{ messageId }}"
text: 'say "hi" {{ messageId }}'
n: 0x10
f: 1.5
ok: true
none: null
quoted: "12"
when: 2024-11-25
list: [1, "{{ messageId }}", {k: v}]
"we\"ird": x
`)
	out := tpl.render(nil, map[string]string{"messageId": "a\"b\\c\n\x01"})
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("invalid JSON %s: %v", out, err)
	}
	want := map[string]any{"messageId": "a\"b\\c\n\x01", "text": "say \"hi\" a\"b\\c\n\x01", "n": 16.0, "f": 1.5,
		"ok": true, "none": nil, "quoted": "12", "when": "2024-11-25", "we\"ird": "x"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if l := got["list"].([]any); len(l) != 3 || l[1] != "a\"b\\c\n\x01" {
		t.Errorf("list = %#v", l)
	}
	if !strings.HasPrefix(string(out), `{"messageId":`) {
		t.Errorf("keys out of file order: %s", out)
	}
}

func TestJSONBodyRefusesAliasBombs(t *testing.T) {
	t.Parallel()
	src := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i := range 8 {
		name := "l" + strconv.Itoa(i)
		src += name + ": &" + name + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n"
		prev = name
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	if _, err := jsonTemplate(n.Content[0]); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("err = %v, want too large", err)
	}
}
