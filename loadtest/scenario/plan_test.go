package scenario

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/heraldhq/herald/infobank"
)

func seedPlan(t *testing.T, cfg Binding) *Plan {
	t.Helper()
	sc, err := Parse(readSeed(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Env = func(k string) (string, bool) { return "tok", k == "REPORT_TOKEN" }
	p, err := NewPlan(sc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func target(t *testing.T, p *Plan) vegeta.Target {
	t.Helper()
	var tgt vegeta.Target
	if err := p.Targeter()(&tgt); err != nil {
		t.Fatal(err)
	}
	return tgt
}

func TestSeedPlanBuildsTheSeedRequest(t *testing.T) {
	t.Parallel()
	p := seedPlan(t, Binding{Target: "http://127.0.0.1:9/"})
	p.now = func() time.Time { return time.Date(2024, 11, 25, 2, 12, 12, 0, time.UTC) }
	tgt := target(t, p)
	if tgt.Method != "POST" || tgt.URL != "http://127.0.0.1:9/reception-result" {
		t.Fatalf("%s %s", tgt.Method, tgt.URL)
	}
	if tgt.Header.Get("Authorization") != "Bearer tok" || tgt.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", tgt.Header)
	}
	var body map[string]string
	if err := json.Unmarshal(tgt.Body, &body); err != nil {
		t.Fatalf("body %s: %v", tgt.Body, err)
	}
	if !strings.HasPrefix(body["messageId"], "lt-"+p.runID+"-") || body["reportTime"] != "2024-11-25 11:12:12" ||
		body["resultCode"] != "SUC" || body["brandtalkType"] != "F" || body["ref"] != "" || body["errorText"] != "" {
		t.Fatalf("body %v", body)
	}
	if p.started.Load() != 1 {
		t.Fatalf("started %d", p.started.Load())
	}
}

func TestPlanDrawsIDsInTurn(t *testing.T) {
	t.Parallel()
	p := seedPlan(t, Binding{IDs: []string{"h1-1", "h1-2"}})
	var got []string
	for range 3 {
		var body map[string]string
		if err := json.Unmarshal(target(t, p).Body, &body); err != nil {
			t.Fatal(err)
		}
		got = append(got, body["messageId"])
	}
	if strings.Join(got, ",") != "h1-1,h1-2,h1-1" {
		t.Fatalf("ids %v", got)
	}
}

func TestDefaultPlanSignsReports(t *testing.T) {
	t.Parallel()
	p, err := NewPlan(Default(true), Binding{Target: "http://x", Vars: map[string]string{"reportSecret": "s3"}})
	if err != nil {
		t.Fatal(err)
	}
	tgt := target(t, p)
	ts, sig := tgt.Header.Get("X-IB-Timestamp"), tgt.Header.Get("X-IB-Signature")
	if err := infobank.VerifySignature([]byte("s3"), ts, sig, time.Now()); err != nil {
		t.Fatalf("signature %q over %q: %v", sig, ts, err)
	}
	rep, err := infobank.DecodeReport(tgt.Body)
	if err != nil {
		t.Fatalf("body %s: %v", tgt.Body, err)
	}
	if rep.Ref == "" || rep.MsgKey == "" || rep.Code != "10000" || tgt.URL != "http://x/v1/reports" {
		t.Fatalf("report %+v to %s", rep, tgt.URL)
	}
}

func TestDefaultPlanNeedsItsCredential(t *testing.T) {
	t.Parallel()
	if _, err := NewPlan(Default(true), Binding{Target: "http://x"}); err == nil || !strings.Contains(err.Error(), "reportSecret") {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewPlan(Default(false), Binding{Target: "http://x"}); err == nil || !strings.Contains(err.Error(), "reportToken") {
		t.Fatalf("err = %v", err)
	}
}

func TestPlanWeightsQueryAndAbsoluteURL(t *testing.T) {
	t.Parallel()
	sc, err := Parse([]byte(`
config:
  target: http://base
  variables: {v: ["a b"]}
  phases: [{duration: 1, arrivalRate: 1}]
scenarios:
  - weight: 0
    flow: [{get: {url: /never}}]
  - flow: [{get: {url: "http://other/x?y=1", qs: {v: "{{ v }}"}, headers: {x-k: "{{ v }}"}}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(sc, Binding{})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		tgt := target(t, p)
		if tgt.URL != "http://other/x?y=1&v=a+b" || tgt.Header.Get("X-K") != "a b" || tgt.Body != nil {
			t.Fatalf("%s %v %q", tgt.URL, tgt.Header, tgt.Body)
		}
	}
}

func TestTargetURLChecked(t *testing.T) {
	t.Parallel()
	if _, err := targetURL("", ""); err != ErrNoTarget {
		t.Fatalf("err = %v", err)
	}
	if _, err := targetURL("localhost:8080", ""); err == nil {
		t.Fatal("a URL without scheme passed")
	}
	if got, _ := targetURL("", "http://h:1/"); got != "http://h:1" {
		t.Fatalf("got %q", got)
	}
}
