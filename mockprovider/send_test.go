package mockprovider_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/mockprovider"
)

// sendBody is a valid request with dests destinations and the fields
// given in extra merged at the top level (a JSON fragment, may be empty).
func sendBody(dests int, alim, extra string) string {
	ds := make([]string, dests)
	for i := range ds {
		ds[i] = fmt.Sprintf(`{"to":"010%08d","ref":"m-%d"}`, i, i)
	}
	if alim == "" {
		alim = `"senderKey":"SK","templateCode":"ORDER","msgType":"AT","text":"Hello"`
	}
	return `{"destinations":[` + strings.Join(ds, ",") + `],"messageFlow":[{"alimtalk":{` + alim + `}}]` + extra + `}`
}

func TestSendValidation(t *testing.T) {
	t.Parallel()
	m := startMock(t, func(c *mockprovider.Config) {
		c.Templates = []herald.Template{{Code: "ORDER", Text: "Hello"}}
	})
	alim := `"senderKey":"SK","templateCode":"ORDER","msgType":"AT","text":`
	sms := func(from, text string) string {
		return `],"messageFlow":[{"alimtalk":{` + alim + `"Hello"}},{"sms":{"from":"` + from + `","text":"` + text + `"}}]`
	}
	cases := []struct {
		name, body string
		status     int
		code       string
	}{
		{"not json", `{`, 400, infobank.CodeParse},
		{"wrong type", `{"destinations":"x"}`, 400, infobank.CodeMapping},
		{"no destinations", `{"messageFlow":[{"alimtalk":{` + alim + `"x"}}]}`, 400, infobank.CodeMapping},
		{"201 destinations", sendBody(201, "", ""), 400, infobank.CodeTooMany},
		{"key without ttl", strings.TrimSuffix(sendBody(1, "", ""), "}") + `,"idempotencyKey":"k"}`, 400, infobank.CodeBadIdemTTL},
		{"ttl too long", strings.TrimSuffix(sendBody(1, "", ""), "}") + `,"idempotencyKey":"k","idempotencyTtl":86401}`, 400, infobank.CodeBadIdemTTL},
		{"key too long", strings.TrimSuffix(sendBody(1, "", ""), "}") + `,"idempotencyKey":"` + strings.Repeat("k", 201) + `","idempotencyTtl":1}`, 400, infobank.CodeBadIdemKey},
		{"no flow", `{"destinations":[{"to":"01012345678"}]}`, 400, infobank.CodeMapping},
		{"sms first", `{"destinations":[{"to":"01012345678"}],"messageFlow":[{"sms":{"from":"1","text":"x"}}]}`, 400, infobank.CodeMapping},
		{"no sender key", sendBody(1, `"templateCode":"ORDER","msgType":"AT","text":"Hello"`, ""), 400, infobank.CodeBadSenderKey},
		{"bad msgType", sendBody(1, `"senderKey":"S","templateCode":"ORDER","msgType":"XX","text":"Hello"`, ""), 400, infobank.CodeBadMsgType},
		{"no text", sendBody(1, `"senderKey":"S","templateCode":"ORDER","msgType":"AT"`, ""), 400, infobank.CodeBadText},
		{"text too long", sendBody(1, alim+`"`+strings.Repeat("가", 1301)+`"`, ""), 400, infobank.CodeTextTooLong},
		{"6 buttons", sendBody(1, alim+`"Hello","attachment":{"button":[`+strings.Repeat(`{"type":"BK","name":"b"},`, 5)+`{"type":"BK","name":"b"}]}`, ""), 400, infobank.CodeBadButton},
		{"button without name", sendBody(1, alim+`"Hello","attachment":{"button":[{"type":"BK"}]}`, ""), 400, infobank.CodeBadButtonName},
		{"unknown template", sendBody(1, `"senderKey":"S","templateCode":"NOPE","msgType":"AT","text":"Hello"`, ""), 400, infobank.CodeBadTemplate},
		{"sms without from", `{"destinations":[{"to":"01012345678"}` + sms("", "hi") + `}`, 400, infobank.CodeBadFrom},
		{"sms too long", `{"destinations":[{"to":"01012345678"}` + sms("02", strings.Repeat("가", 46)) + `}`, 400, infobank.CodeFallbackLong},
		{"emoji by sms", `{"destinations":[{"to":"01012345678"}` + sms("02", "hi 🙂") + `}`, 400, infobank.CodeFallbackLong},
		{"valid with sms", `{"destinations":[{"to":"01012345678"}` + sms("02", strings.Repeat("가", 45)) + `}`, 200, infobank.CodeSuccess},
		{"too large", `{"destinations":[{"to":"` + strings.Repeat("1", 1<<20) + `"}]}`, 413, infobank.CodeTooLarge},
	}
	for _, c := range cases {
		status, env := post(t, m.url, testKey, c.body)
		if status != c.status || env.Data == nil || env.Data.Code != c.code {
			t.Errorf("%s: %d %+v, want %d %s", c.name, status, env.Data, c.status, c.code)
		}
	}
	if st := m.Stats(); st.BadRequests != int64(len(cases)-1) || st.Accepted != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSendAuthAndRoutes(t *testing.T) {
	t.Parallel()
	m := startMock(t, nil)
	status, env := post(t, m.url, "wrong", sendBody(1, "", ""))
	if status != http.StatusUnauthorized || env.Common.AuthCode != infobank.CodeUnauthorized || env.Data != nil {
		t.Errorf("wrong key: %d %+v", status, env)
	}
	resp, err := rawClient.Get(m.url + "/api/comm/v1/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
}

func TestSendPerDestinationCodes(t *testing.T) {
	t.Parallel()
	m := startMock(t, nil)
	body := `{"destinations":[{"to":"01012345678","ref":"a"},{"to":"0101234567"},{"to":"01612345678"},{"to":"010-1234-5678"}],
		"messageFlow":[{"alimtalk":{"senderKey":"S","templateCode":"T","msgType":"AT","text":"x"}}],"ref":"camp"}`
	status, env := post(t, m.url, testKey, body)
	var res infobank.SendResult
	if status != 200 || env.Data == nil || env.Data.Ref != "camp" || json.Unmarshal(*env.Data.Data, &res) != nil {
		t.Fatalf("%d %+v", status, env)
	}
	want := []string{infobank.CodeSuccess, infobank.CodeBadTo, infobank.CodeSuccess, infobank.CodeBadTo}
	for i, d := range res.Destinations {
		if d.Code != want[i] || (d.Code == infobank.CodeSuccess) != (len(d.MsgKey) == 32) {
			t.Errorf("destination %d = %+v, want %s", i, d, want[i])
		}
	}
	if st := m.Stats(); st.Accepted != 2 || st.RefusedOther != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSendRefusedWholeOverTPS(t *testing.T) {
	t.Parallel()
	m := startMock(t, func(c *mockprovider.Config) { c.TPS = 5 })
	c := newClient(t, m.url)
	if out := c.Send(t.Context(), batch(3, 0, "x")); out[0].Kind != herald.Accepted {
		t.Fatalf("first batch: %+v", out)
	}
	for _, o := range c.Send(t.Context(), batch(3, 10, "x")) {
		if o.Kind != herald.RefusedRetryable || o.Code != infobank.CodeRateLimited {
			t.Fatalf("second batch: %+v", o)
		}
	}
	if st := m.Stats(); st.Accepted != 3 || st.RefusedRateLimit != 3 || st.MaxWindow != 3 {
		t.Errorf("stats = %+v", st)
	}
}

// TestBurstNeverExceedsTPS sends 5,000 single-recipient requests from 64
// goroutines: each is accepted or refused with 429, and no trailing second
// holds more than the limit.
func TestBurstNeverExceedsTPS(t *testing.T) {
	t.Parallel()
	const requests, workers, tps = 5000, 64, 200
	m := startMock(t, func(c *mockprovider.Config) { c.TPS, c.Reports = tps, mockprovider.ReportsOff })
	c := newClient(t, m.url)
	var accepted, limited, other sync.Map
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				o := c.Send(t.Context(), batch(1, i, "x"))[0]
				switch {
				case o.Kind == herald.Accepted && o.Code == infobank.CodeSuccess:
					accepted.Store(i, true)
				case o.Kind == herald.RefusedRetryable && o.Code == infobank.CodeRateLimited:
					limited.Store(i, true)
				default:
					other.Store(i, o)
				}
			}
		})
	}
	for i := range requests {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	nAcc, nLim := count(&accepted), count(&limited)
	other.Range(func(k, v any) bool { t.Errorf("request %v: %+v", k, v); return true })
	st := m.Stats()
	if nAcc+nLim != requests || int64(nAcc) != st.Accepted || int64(nLim) != st.RefusedRateLimit {
		t.Errorf("accepted %d + limited %d != %d; stats %+v", nAcc, nLim, requests, st)
	}
	if st.MaxWindow > tps || st.WindowsOverLimit != 0 || st.MaxWindow == 0 {
		t.Errorf("max_window = %d, windows_over_limit = %d, limit %d", st.MaxWindow, st.WindowsOverLimit, tps)
	}
	t.Logf("accepted %d, refused %d, max_window %d", nAcc, nLim, st.MaxWindow)
}

func count(m *sync.Map) int {
	n := 0
	m.Range(func(any, any) bool { n++; return true })
	return n
}

func TestDuplicatesCounted(t *testing.T) {
	t.Parallel()
	m := startMock(t, nil)
	c := newClient(t, m.url)
	b := batch(2, 0, "x")
	c.Send(t.Context(), b)
	b.IdempotencyKey = "another key" // a careless resend: a new key for the same messages
	c.Send(t.Context(), b)
	st := m.Stats()
	if st.Accepted != 4 || st.DuplicateRecipients != 2 || st.DuplicateRefs != 2 ||
		len(st.DuplicateRecipientExamples) != 2 || st.DuplicateRefExamples[0] != "m-0" {
		t.Errorf("stats = %+v", st)
	}
}

func TestStatsEndpointAndReset(t *testing.T) {
	t.Parallel()
	m := startMock(t, nil)
	newClient(t, m.url).Send(t.Context(), batch(2, 0, "x"))
	var st map[string]any
	getJSON(t, m.url+"/mock/stats", &st)
	if st["accepted"] != 2.0 || st["max_window"] != 2.0 || st["per_second"] == nil {
		t.Errorf("stats = %v", st)
	}
	resp, err := rawClient.Post(m.url+"/mock/reset", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s := m.Stats(); s.Accepted != 0 || s.Requests != 0 || s.MaxWindow != 0 || len(s.PerSecond) != 0 {
		t.Errorf("stats after reset = %+v", s)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := rawClient.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("%s: %v: %s", url, err, body)
	}
}
