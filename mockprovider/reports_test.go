package mockprovider_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/mockprovider"
)

func webhook(url string) func(*mockprovider.Config) {
	return func(c *mockprovider.Config) {
		c.Reports, c.ReportURL, c.ReportDelay, c.ReportBackoff = mockprovider.ReportsWebhook, url, 0, time.Millisecond
	}
}

func TestWebhookSignedBizgoReport(t *testing.T) {
	t.Parallel()
	url, got := receiver(t, ackMsgKey)
	m := startMock(t, func(c *mockprovider.Config) {
		webhook(url)(c)
		c.ReportSecret, c.ReportToken = "hook-secret", "hook-token"
	})
	out := newClient(t, m.url).Send(t.Context(), batch(1, 0, "x"))
	call := next(t, got)
	h := call.header
	if err := infobank.VerifySignature([]byte("hook-secret"), h.Get(infobank.HeaderTimestamp), h.Get(infobank.HeaderSignature), time.Now()); err != nil {
		t.Errorf("signature: %v", err)
	}
	if len(h.Get(infobank.HeaderTimestamp)) != 13 || h.Get("Authorization") != "Bearer hook-token" {
		t.Errorf("headers = %v", h)
	}
	r, err := infobank.DecodeReport(call.body)
	if err != nil {
		t.Fatal(err)
	}
	if r.MsgKey != out[0].MsgKey || r.Ref != "m-0" || !r.Delivered() || r.ServiceType != "ALIMTALK" || r.ReportType != "0" {
		t.Errorf("report = %+v", r)
	}
	stop(t, m.Server)
	if st := m.Stats(); st.ReportsSent != 1 || st.ReportsAcked != 1 || st.ReportsRetried != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestWebhookSeedFormat(t *testing.T) {
	t.Parallel()
	url, got := receiver(t, func(int64, []byte) (int, string) { return http.StatusOK, "" })
	m := startMock(t, func(c *mockprovider.Config) {
		webhook(url)(c)
		c.ReportFormat, c.BlockedRate = mockprovider.FormatSeed, 1
	})
	out := newClient(t, m.url).Send(t.Context(), batch(1, 0, "x"))
	call := next(t, got)
	var seed infobank.SeedReport
	if err := json.Unmarshal(call.body, &seed); err != nil || seed.MessageID != out[0].MsgKey || seed.ResultCode != "63020" {
		t.Errorf("seed report %s: %+v, %v", call.body, seed, err)
	}
	r, err := infobank.DecodeReport(call.body)
	if err != nil || r.Code != "63020" || r.Ref != "m-0" || r.MsgKey != out[0].MsgKey {
		t.Errorf("decoded %+v, %v", r, err)
	}
	stop(t, m.Server)
	if st := m.Stats(); st.ReportsAcked != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestWebhookRetriesUntilAcknowledged(t *testing.T) {
	t.Parallel()
	url, got := receiver(t, func(n int64, body []byte) (int, string) {
		switch n {
		case 1:
			return http.StatusServiceUnavailable, ""
		case 2:
			return http.StatusOK, `{"msgKey":"some other"}`
		}
		return ackMsgKey(n, body)
	})
	m := startMock(t, webhook(url))
	newClient(t, m.url).Send(t.Context(), batch(1, 0, "x"))
	first, third := next(t, got), next(t, got)
	next(t, got)
	if string(first.body) != string(third.body) {
		t.Errorf("a retry changed the body:\n%s\n%s", first.body, third.body)
	}
	stop(t, m.Server)
	if st := m.Stats(); st.ReportsSent != 3 || st.ReportsRetried != 2 || st.ReportsAcked != 1 || st.ReportsGivenUp != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestWebhookGivesUp(t *testing.T) {
	t.Parallel()
	url, got := receiver(t, func(int64, []byte) (int, string) { return http.StatusInternalServerError, "" })
	m := startMock(t, func(c *mockprovider.Config) {
		webhook(url)(c)
		c.ReportRetries = 1
	})
	newClient(t, m.url).Send(t.Context(), batch(1, 0, "x"))
	next(t, got)
	next(t, got)
	stop(t, m.Server)
	if st := m.Stats(); st.ReportsSent != 2 || st.ReportsGivenUp != 1 || st.ReportsAcked != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestFallbackReportFollowsNotAUser(t *testing.T) {
	t.Parallel()
	url, got := receiver(t, ackMsgKey)
	m := startMock(t, func(c *mockprovider.Config) {
		webhook(url)(c)
		c.NotUserRate = 1
	})
	b := batch(1, 0, "x")
	b.Destinations[0].FallbackKind, b.Destinations[0].FallbackFrom, b.Destinations[0].FallbackText = "LMS", "0212345678", "long"
	out := newClient(t, m.url).Send(t.Context(), b)
	kakao, _ := infobank.DecodeReport(next(t, got).body)
	lms, _ := infobank.DecodeReport(next(t, got).body)
	if kakao.Code != "63019" || kakao.Fallback() || kakao.MsgKey != out[0].MsgKey {
		t.Errorf("kakao report = %+v", kakao)
	}
	// An LMS reports through the MMS channel (an MMS without files).
	if lms.ServiceType != "MMS" || lms.MsgType != "LM" || !lms.Fallback() || !lms.Delivered() || lms.MsgKey != out[0].MsgKey || lms.Ref != "m-0" {
		t.Errorf("fallback report = %+v", lms)
	}
}

func TestTemplateMismatchReports63016(t *testing.T) {
	t.Parallel()
	url, got := receiver(t, ackMsgKey)
	m := startMock(t, func(c *mockprovider.Config) {
		webhook(url)(c)
		c.Templates = []herald.Template{{Code: "ORDER", Text: "Hello #{name}, your order shipped."}}
	})
	c := newClient(t, m.url)
	c.Send(t.Context(), batch(1, 0, "Hello Kim, your order shipped."))
	if r, _ := infobank.DecodeReport(next(t, got).body); r.Code != "10000" {
		t.Errorf("matching text: %+v", r)
	}
	c.Send(t.Context(), batch(1, 1, "Hello Kim, your order has shipped."))
	if r, _ := infobank.DecodeReport(next(t, got).body); r.Code != "63016" {
		t.Errorf("mismatching text: %+v", r)
	}
}

func TestTemplateSendTypeRendersReplaceWords(t *testing.T) {
	t.Parallel()
	m := startMock(t, func(c *mockprovider.Config) {
		c.Templates = []herald.Template{{Code: "ORDER", Text: "Hello #{name}."}}
	})
	body := `{"destinations":[{"to":"01012345678","replaceWords":{"name":"Kim"}},{"to":"01012345679"}],
		"messageFlow":[{"alimtalk":{"senderKey":"S","templateCode":"ORDER","sendType":"template"}}]}`
	status, env := post(t, m.url, testKey, body)
	var res infobank.SendResult
	if status != 200 || json.Unmarshal(*env.Data.Data, &res) != nil {
		t.Fatalf("%d %+v", status, env)
	}
	if res.Destinations[0].Code != infobank.CodeSuccess || res.Destinations[1].Code != infobank.CodeMapping {
		t.Errorf("destinations = %+v", res.Destinations)
	}
}

func TestReportLossAndDuplication(t *testing.T) {
	t.Parallel()
	url, got := receiver(t, ackMsgKey)
	lossy := startMock(t, func(c *mockprovider.Config) {
		webhook(url)(c)
		c.ReportLossRate = 1
	})
	twice := startMock(t, func(c *mockprovider.Config) {
		webhook(url)(c)
		c.ReportDupRate = 1
	})
	newClient(t, lossy.url).Send(t.Context(), batch(1, 0, "x"))
	newClient(t, twice.url).Send(t.Context(), batch(1, 100, "x"))
	a, b := next(t, got), next(t, got)
	if string(a.body) != string(b.body) {
		t.Errorf("the duplicate differs:\n%s\n%s", a.body, b.body)
	}
	stop(t, lossy.Server)
	stop(t, twice.Server)
	if st := lossy.Stats(); st.ReportsLost != 1 || st.ReportsSent != 0 {
		t.Errorf("lossy stats = %+v", st)
	}
	if st := twice.Stats(); st.ReportsDuplicated != 1 || st.ReportsAcked != 2 {
		t.Errorf("duplicating stats = %+v", st)
	}
	select {
	case r := <-got:
		t.Errorf("unexpected report %s", r.body)
	default:
	}
}

func TestResultMixIsReproducible(t *testing.T) {
	t.Parallel()
	mix := func(c *mockprovider.Config) {
		c.NotUserRate, c.BlockedRate, c.UncertainRate, c.Seed = 0.2, 0.2, 0.2, 42
		c.Reports, c.ReportDelay = mockprovider.ReportsPolling, 0
	}
	codes := func() map[string]string {
		m := startMock(t, mix)
		c := newClient(t, m.url)
		out := c.Send(t.Context(), batch(100, 0, "x"))
		got := map[string]string{}
		for i, o := range out {
			rs, err := c.Inquire(t.Context(), o.MsgKey)
			if err != nil || len(rs) != 1 {
				t.Fatalf("inquire %d: %v, %v", i, rs, err)
			}
			got[rs[0].Ref] = rs[0].Code
		}
		return got
	}
	a, b := codes(), codes()
	kinds := map[string]int{}
	for ref, code := range a {
		if b[ref] != code {
			t.Errorf("%s: %s then %s", ref, code, b[ref])
		}
		kinds[code]++
	}
	if len(kinds) != 4 {
		t.Errorf("codes seen: %v, want all four", kinds)
	}
}
