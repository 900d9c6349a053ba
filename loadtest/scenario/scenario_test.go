package scenario

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/loadtest/internal/seedtest"
)

// readSeed is the seed scenario's text.
var readSeed = seedtest.Read

func TestParseSeedScenario(t *testing.T) {
	t.Parallel()
	sc, err := Parse(readSeed(t))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Target != "http://localhost:8080" || sc.Processor != "./processor.js" || len(sc.Warnings) != 0 {
		t.Fatalf("target %q processor %q warnings %v", sc.Target, sc.Processor, sc.Warnings)
	}
	want := []Phase{
		{Name: "Warm up", Duration: 50 * time.Second, Rate: 1, RampTo: 100},
		{Name: "Ramp up", Duration: 150 * time.Second, Rate: 100, RampTo: 180},
		{Name: "Sustained", Duration: 100 * time.Second, Rate: 180, RampTo: 180},
		{Name: "Ramp down", Duration: 30 * time.Second, Rate: 180, RampTo: 1},
	}
	if len(sc.Phases) != len(want) {
		t.Fatalf("phases %+v", sc.Phases)
	}
	for i, ph := range sc.Phases {
		ph.Line = 0
		if ph != want[i] {
			t.Errorf("phase %d = %+v, want %+v", i, ph, want[i])
		}
	}
	if len(sc.Flows) != 1 {
		t.Fatalf("flows %+v", sc.Flows)
	}
	f := sc.Flows[0]
	if len(f.Functions) != 1 || f.Functions[0].Name != "generateMessageId" || f.Request.Method != "POST" ||
		f.Request.URL.Source != "/reception-result" || !f.Request.JSON || len(f.Request.Headers) != 1 {
		t.Fatalf("flow %+v", f)
	}
}

func TestParseOptionalFeatures(t *testing.T) {
	t.Parallel()
	sc, err := Parse([]byte(`
config:
  target: http://x
  http: {timeout: 2}
  variables:
    code: [SUC, FAIL]
    one: fixed
  plugins: {expect: {}}
  phases:
    - {pause: 5}
    - {duration: 10, arrivalCount: 50}
    - {duration: 1m, arrivalRate: 3}
scenarios:
  - weight: 3
    beforeScenario: generateReport
    flow:
      - get:
          url: "/a?x=1"
          qs: {code: "{{ code }}"}
          beforeRequest: signReport
          expect: [{statusCode: 200}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Timeout != 2*time.Second || len(sc.Variables["code"]) != 2 || sc.Variables["one"][0] != "fixed" {
		t.Fatalf("config %+v", sc)
	}
	if p := sc.Phases; p[0].Duration != 5*time.Second || p[0].Rate != 0 || p[1].Rate != 5 || p[2].Duration != time.Minute {
		t.Fatalf("phases %+v", p)
	}
	f := sc.Flows[0]
	if f.Weight != 3 || f.Functions[0].Name != "generateReport" || f.Request.Before[0].Name != "signReport" || len(f.Request.Query) != 1 {
		t.Fatalf("flow %+v", f)
	}
	if len(sc.Warnings) != 2 || !strings.HasPrefix(sc.Warnings[0], "line 8:") {
		t.Fatalf("warnings %q", sc.Warnings)
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	t.Parallel()
	head := "config:\n  target: http://x\n  phases:\n    - duration: 10\n      arrivalRate: 5\nscenarios:\n  - flow:\n"
	cases := []struct {
		name, yaml string
		line       int
		msg        string
	}{
		{"unknown function", head + "      - function: makeIds\n      - get: {url: /}\n", 8, `function "makeIds": herald cannot run JavaScript`},
		{"negative duration", "config:\n  phases:\n    - duration: 1\n      arrivalRate: 1\n    - duration: -5\n      arrivalRate: 1\nscenarios: []\n", 5, "must not be negative"},
		{"zero duration", "config:\n  phases:\n    - duration: 0\n      arrivalRate: 1\nscenarios: []\n", 3, "must be positive"},
		{"negative rate", "config:\n  phases:\n    - duration: 1\n      arrivalRate: -1\nscenarios: []\n", 4, "must not be negative"},
		{"rate not a number", "config:\n  phases:\n    - duration: 1\n      arrivalRate: lots\nscenarios: []\n", 4, "want a number"},
		{"no rate", "config:\n  phases:\n    - duration: 1\nscenarios: []\n", 3, "arrivalRate is missing"},
		{"no phases", "config:\n  target: http://x\nscenarios: []\n", 2, "config.phases is missing"},
		{"two requests", head + "      - get: {url: /a}\n      - get: {url: /b}\n", 9, "one request per arrival"},
		{"no request", head + "      - function: generateMessageId\n", 8, "has no request"},
		{"unsupported step", head + "      - think: 1\n      - get: {url: /}\n", 8, `step "think" is not supported`},
		{"unclosed template", head + "      - get:\n          url: \"/{{ id\"\n", 9, "unclosed {{"},
		{"javascript", head + "      - get:\n          url: \"/{{ Math.random() }}\"\n", 9, "does not evaluate JavaScript"},
		{"bad builtin", head + "      - get:\n          url: \"/{{ $randomString(0) }}\"\n", 9, "$randomString"},
		{"no url", head + "      - post:\n          json: {a: 1}\n", 9, "url is missing"},
		{"unsupported request key", head + "      - post:\n          url: /\n          form: {a: 1}\n", 10, "is not supported"},
		{"duplicate key", "config:\n  target: a\n  target: b\n", 3, "duplicate key"},
		{"not a mapping", "- 1\n- 2\n", 1, "must be a mapping"},
		{"json infinity", head + "      - post:\n          url: /\n          json: {a: .inf}\n", 10, "not a JSON number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(c.yaml))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if pe.Line != c.line || !strings.Contains(pe.Msg, c.msg) {
				t.Fatalf("err = %v, want line %d and %q", err, c.line, c.msg)
			}
		})
	}
}

func TestParseSyntaxErrorHasLine(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte("config:\n  phases: [\n    - x\n"))
	if err == nil || !strings.Contains(err.Error(), "line ") {
		t.Fatalf("err = %v, want a line number", err)
	}
}

func TestUnknownVariableNamesTheLine(t *testing.T) {
	t.Parallel()
	sc, err := Parse([]byte("config:\n  target: http://x\n  phases: [{duration: 1, arrivalRate: 1}]\nscenarios:\n  - flow:\n      - post:\n          url: /\n          json:\n            id: \"{{ msgKey }}\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewPlan(sc, Binding{})
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 9 || !strings.Contains(pe.Msg, "msgKey") {
		t.Fatalf("err = %v, want line 9 naming msgKey", err)
	}
}

func TestMissingEnvironmentNamesTheLine(t *testing.T) {
	t.Parallel()
	sc, err := Parse(readSeed(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewPlan(sc, Binding{Env: func(string) (string, bool) { return "", false }})
	line := lineContaining(t, readSeed(t), "$processEnvironment.REPORT_TOKEN")
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != line || !strings.Contains(pe.Msg, "REPORT_TOKEN is not set") {
		t.Fatalf("err = %v, want line %d naming REPORT_TOKEN", err, line)
	}
}

// lineContaining is the line of the first non-comment line of data holding s.
func lineContaining(t *testing.T, data []byte, s string) int {
	t.Helper()
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, s) && !strings.HasPrefix(strings.TrimSpace(l), "#") {
			return i + 1
		}
	}
	t.Fatalf("%q not found", s)
	return 0
}

func TestDefaultScenarioParses(t *testing.T) {
	t.Parallel()
	for _, signed := range []bool{false, true} {
		sc := Default(signed)
		if len(sc.Flows) != 1 || sc.Flows[0].Request.URL.Source != "/v1/reports" || len(sc.Warnings) != 0 {
			t.Fatalf("signed=%v: %+v", signed, sc)
		}
	}
}

func TestScaled(t *testing.T) {
	t.Parallel()
	sc, err := Parse(readSeed(t))
	if err != nil {
		t.Fatal(err)
	}
	var total time.Duration
	for _, ph := range Scaled(sc.Phases, 0.1) {
		total += ph.Duration
	}
	if total != 33*time.Second {
		t.Fatalf("scaled total %v, want 33s", total)
	}
}
