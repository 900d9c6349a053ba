package mockprovider_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/mockprovider"
)

// The fidelity switches make the mock answer the ways the real provider
// is documented (or seen) to answer; each test checks that herald's client
// reads the answer right.

func TestRateLimitInside200(t *testing.T) {
	t.Parallel()
	m := startMock(t, func(c *mockprovider.Config) {
		c.TPS, c.RateLimitAnswer, c.APIRate = 1, mockprovider.RateLimitIn200, 1
		c.Reports, c.ReportDelay = mockprovider.ReportsPolling, 0
	})
	c := newClient(t, m.url)
	assertKinds(t, c.Send(t.Context(), batch(1, 0, "x")), herald.Accepted, infobank.CodeSuccess)
	// The second recipient in the same second: A020 inside an HTTP 200.
	assertKinds(t, c.Send(t.Context(), batch(1, 1, "x")), herald.RefusedRetryable, infobank.CodeRateLimited)
	if _, err := c.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, err := c.Poll(t.Context())
	var apiErr *infobank.APIError
	if !infobank.RateLimited(err) || !errors.As(err, &apiErr) || apiErr.Status != http.StatusOK {
		t.Fatalf("second poll in a second = %v, want A020 in a 200", err)
	}
}

func TestNonSendLimitIs429AndIndependentOfSends(t *testing.T) {
	t.Parallel()
	m := startMock(t, func(c *mockprovider.Config) { c.APIRate, c.TPS = 2, 1000 })
	c := newClient(t, m.url)
	for i := range 2 {
		if _, err := c.Inquire(t.Context(), fmt.Sprintf("K%d", i)); err != nil {
			t.Fatalf("inquiry %d: %v", i, err)
		}
	}
	_, err := c.Inquire(t.Context(), "K3")
	var apiErr *infobank.APIError
	if !infobank.RateLimited(err) || !errors.As(err, &apiErr) || apiErr.Status != http.StatusTooManyRequests {
		t.Fatalf("third inquiry in a second = %v, want 429 A020", err)
	}
	// Sends have their own limit.
	assertKinds(t, c.Send(t.Context(), batch(50, 0, "x")), herald.Accepted, infobank.CodeSuccess)
	if st := m.Stats(); st.APIRequests != 3 || st.APIRefusedRateLimit != 1 || st.APIMaxWindow != 3 {
		t.Errorf("stats = requests %d, refused %d, max window %d", st.APIRequests, st.APIRefusedRateLimit, st.APIMaxWindow)
	}
}

func TestDuplicateAnswers(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{mockprovider.DuplicateRequest, mockprovider.DuplicateNoMsgKey} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			m := startMock(t, func(c *mockprovider.Config) { c.DuplicateAnswer = mode })
			c := newClient(t, m.url)
			b := keyed(3, 0, "dup-"+mode)
			first := c.Send(t.Context(), b)
			assertKinds(t, first, herald.Accepted, infobank.CodeSuccess)
			again := c.Send(t.Context(), b)
			for i, o := range again {
				if o.Kind != herald.Accepted || !o.Duplicate || o.Code != infobank.CodeDuplicate {
					t.Errorf("replay %d = %+v, want accepted earlier (A301)", i, o)
				}
				if o.MsgKey != "" {
					t.Errorf("replay %d carries msgKey %q; this mode answers without", i, o.MsgKey)
				}
			}
			if st := m.Stats(); st.Accepted != 3 || st.DuplicateRecipients != 0 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

// Account gating: refusals that no recipient is at fault for come back as
// account refusals, so that herald pauses the campaign instead of failing
// its recipients.
func TestAccountGating(t *testing.T) {
	t.Parallel()
	m := startMock(t, func(c *mockprovider.Config) {
		c.SenderKeys, c.RegisteredFrom = []string{"SK"}, []string{"0212345678"}
		c.Templates = []herald.Template{
			{Code: "ORDER", Text: "x", SenderKey: "SK"},
			{Code: "NEW", Text: "x", SenderKey: "SK"},
		}
		c.Inspection = map[string]string{"NEW": infobank.InspectionRequested}
	})
	c := newClient(t, m.url)
	ok := batch(1, 0, "x")
	assertKinds(t, c.Send(t.Context(), ok), herald.Accepted, infobank.CodeSuccess)

	notOwned := batch(1, 1, "x")
	notOwned.SenderKey = "OTHER"
	assertKinds(t, c.Send(t.Context(), notOwned), herald.RefusedAccount, infobank.CodeBadSenderKey)

	inspecting := batch(1, 2, "x")
	inspecting.TemplateCode = "NEW"
	assertKinds(t, c.Send(t.Context(), inspecting), herald.RefusedAccount, infobank.CodeBadTemplate)

	unregistered := batch(1, 3, "x")
	unregistered.Destinations[0].FallbackKind, unregistered.Destinations[0].FallbackFrom, unregistered.Destinations[0].FallbackText = "SMS", "0299999999", "x"
	assertKinds(t, c.Send(t.Context(), unregistered), herald.RefusedAccount, infobank.CodeUnregisteredFrom)

	registered := batch(1, 4, "x")
	registered.Destinations[0].FallbackKind, registered.Destinations[0].FallbackFrom, registered.Destinations[0].FallbackText = "SMS", "0212345678", "x"
	assertKinds(t, c.Send(t.Context(), registered), herald.Accepted, infobank.CodeSuccess)
}

func TestZeroIdempotencyTTLIsValid(t *testing.T) {
	t.Parallel()
	m := startMock(t, nil)
	body := `{"destinations":[{"to":"01012345678"}],"idempotencyKey":"k0","idempotencyTtl":0,
		"messageFlow":[{"alimtalk":{"senderKey":"S","templateCode":"T","msgType":"AT","text":"x"}}]}`
	if status, env := post(t, m.url, testKey, body); status != http.StatusOK || env.Data.Code != infobank.CodeSuccess {
		t.Fatalf("ttl 0: %d %+v", status, env.Data)
	}
	bad := strings.Replace(body, `"idempotencyTtl":0`, `"idempotencyTtl":86401`, 1)
	if status, env := post(t, m.url, testKey, bad); status != http.StatusBadRequest || env.Data.Code != infobank.CodeBadIdemTTL {
		t.Fatalf("ttl 86401: %d %+v", status, env.Data)
	}
}

func TestUnknownRouteAnswersJSON(t *testing.T) {
	t.Parallel()
	m := startMock(t, nil)
	resp, err := rawClient.Get(m.url + "/api/comm/v1/nothing/here")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env infobank.Envelope[struct{}]
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNotFound || json.Unmarshal(raw, &env) != nil || env.Common.AuthCode != infobank.CodeNotFound {
		t.Fatalf("%d %s", resp.StatusCode, raw)
	}
}

func TestPollingOnAWebhookKey(t *testing.T) {
	t.Parallel()
	url, _ := receiver(t, ackMsgKey)
	m := startMock(t, webhook(url))
	_, err := newClient(t, m.url).Poll(t.Context())
	var apiErr *infobank.APIError
	if infobank.ErrorCode(err) != infobank.CodeNoPolling || !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest {
		t.Fatalf("poll on a webhook key = %v, want 400 A801", err)
	}
}

// Polling and inquiry write times without fractional seconds; the webhook
// with (TestFallbackReportFollowsNotAUser reads a webhook report). herald
// reads both.
func TestPolledTimesHaveNoMilliseconds(t *testing.T) {
	t.Parallel()
	m := startMock(t, func(c *mockprovider.Config) { c.Reports, c.ReportDelay = mockprovider.ReportsPolling, 0 })
	c := newClient(t, m.url)
	out := c.Send(t.Context(), batch(1, 0, "x"))
	req, _ := http.NewRequest(http.MethodGet, m.url+infobank.PathInquiry+out[0].MsgKey, nil)
	req.Header.Set("Authorization", testKey)
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var env infobank.InquiryResponse
	if err := json.Unmarshal(raw, &env); err != nil || len(env.Data.Data.Report) != 1 {
		t.Fatalf("%s %v", raw, err)
	}
	rt := env.Data.Data.Report[0].ReportTime
	if _, err := time.Parse(infobank.TimeLayoutSeconds, rt); err != nil || strings.Contains(rt, ".") {
		t.Fatalf("inquiry reportTime %q, want yyyy-MM-ddTHH:mm:ssXXX", rt)
	}
	polled, err := c.Poll(t.Context())
	if err != nil || len(polled.Reports) != 1 || polled.Reports[0].ReportTime.Nanosecond() != 0 {
		t.Fatalf("poll = %+v, %v", polled, err)
	}
	var body infobank.ReportBody
	json.Unmarshal(polled.Reports[0].Raw, &body)
	if strings.Contains(body.ReportTime, ".") {
		t.Fatalf("polled reportTime %q has fractional seconds", body.ReportTime)
	}
}

func TestTemplateAPIPagesAndStates(t *testing.T) {
	t.Parallel()
	var ts []herald.Template
	insp := map[string]string{}
	for i := range 150 {
		code := fmt.Sprintf("T%03d", i)
		ts = append(ts, herald.Template{Code: code, SenderKey: "SK", Text: "#{name}님 " + code, Title: "title",
			Buttons: []herald.Button{{Type: "WL", Name: "go", URLMobile: "https://example.com"}}})
		if i%3 == 1 {
			insp[code] = infobank.InspectionRequested
		}
	}
	ts = append(ts, herald.Template{Code: "OTHER", SenderKey: "SK2", Text: "x"})
	m := startMock(t, func(c *mockprovider.Config) { c.Templates, c.Inspection = ts, insp })
	got, err := newClient(t, m.url).ListTemplates(t.Context(), "SK")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 150 {
		t.Fatalf("%d templates, want the 150 of sender key SK (two pages)", len(got))
	}
	apr := 0
	for i, g := range got {
		want := ts[i]
		if g.Code != want.Code || g.Text != want.Text || g.Title != want.Title || len(g.Buttons) != 1 || g.Buttons[0] != want.Buttons[0] {
			t.Fatalf("template %d = %+v, want %+v", i, g, want)
		}
		if g.Status() == herald.TemplateApproved {
			apr++
		}
	}
	if apr != 100 || got[1].Inspection != infobank.InspectionRequested || got[1].Status() != herald.TemplateDraft {
		t.Fatalf("%d approved (want 100), T001 = %+v", apr, got[1])
	}
	// Replacing the catalog is how a test plays Kakao's inspection.
	req, _ := http.NewRequest(http.MethodPut, m.url+"/mock/templates", strings.NewReader(`[{"code":"T001","senderKey":"SK","text":"new","inspectionStatus":"APR"}]`))
	resp, err := rawClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT /mock/templates: %v %v", resp, err)
	}
	resp.Body.Close()
	got, err = newClient(t, m.url).ListTemplates(t.Context(), "SK")
	if err != nil || len(got) != 1 || got[0].Status() != herald.TemplateApproved || got[0].Text != "new" {
		t.Fatalf("after the change: %+v, %v", got, err)
	}
}
