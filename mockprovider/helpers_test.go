package mockprovider_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/mockprovider"
)

const testKey = "test-key"

// rawClient sends hand-written requests.
var rawClient = &http.Client{Timeout: 10 * time.Second}

// testMock is a started mock behind a loopback HTTP server.
type testMock struct {
	*mockprovider.Server
	url string
}

func startMock(t testing.TB, edit func(*mockprovider.Config)) testMock {
	t.Helper()
	cfg := mockprovider.DefaultConfig()
	cfg.APIKey, cfg.LogEvery, cfg.TPS = testKey, 0, 10_000
	cfg.APIRate = 0 // tests of the non-send limit set it
	if edit != nil {
		edit(&cfg)
	}
	m, err := mockprovider.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(m)
	m.Start(context.Background())
	t.Cleanup(func() {
		stop(t, m)
		ts.Close()
	})
	return testMock{m, ts.URL}
}

// stop drains the mock, so that its report counters are final.
func stop(t testing.TB, m *mockprovider.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Stop(ctx); err != nil {
		t.Errorf("stop mock: %v", err)
	}
}

func newClient(t testing.TB, url string, edit ...func(*infobank.Config)) *infobank.Client {
	t.Helper()
	cfg := infobank.Config{BaseURL: url, APIKey: testKey, Timeout: 10 * time.Second}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := infobank.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// batch has n recipients with the same text, numbers from base.
func batch(n, base int, text string) herald.SendBatch {
	b := herald.SendBatch{
		SenderKey: "SK", TemplateCode: "ORDER", Ref: "campaign-1",
		IdempotencyKey: fmt.Sprintf("key-%d-%d", base, n), IdempotencyTTL: time.Hour,
	}
	for i := range n {
		b.Destinations = append(b.Destinations, herald.Destination{
			To: fmt.Sprintf("010%08d", base+i), MessageID: fmt.Sprintf("m-%d", base+i), Text: text,
		})
	}
	return b
}

// received is one webhook call.
type received struct {
	header http.Header
	body   []byte
}

// receiver is a webhook that hands every call to got and answers with
// answer(n, body), n counting calls from 1.
func receiver(t testing.TB, answer func(n int64, body []byte) (int, string)) (string, <-chan received) {
	t.Helper()
	got := make(chan received, 1000)
	var calls atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- received{r.Header.Clone(), body}
		status, text := answer(calls.Add(1), body)
		w.WriteHeader(status)
		io.WriteString(w, text)
	}))
	t.Cleanup(ts.Close)
	return ts.URL, got
}

// ackMsgKey is the correct answer to a Bizgo report.
func ackMsgKey(_ int64, body []byte) (int, string) {
	var r struct {
		MsgKey string `json:"msgKey"`
	}
	json.Unmarshal(body, &r)
	return http.StatusOK, `{"msgKey":"` + r.MsgKey + `"}`
}

// next waits for one webhook call.
func next(t testing.TB, got <-chan received) received {
	t.Helper()
	select {
	case r := <-got:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no report within 10s")
	}
	return received{}
}

// post sends a raw request and decodes the envelope.
func post(t testing.TB, url, key, body string) (int, infobank.Envelope[json.RawMessage]) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+infobank.PathSend, bytes.NewBufferString(body))
	req.Header.Set("Authorization", key)
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env infobank.Envelope[json.RawMessage]
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 && json.Unmarshal(raw, &env) != nil {
		t.Fatalf("answer %d is not an envelope: %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, env
}

// keyed is a batch of n with its own idempotency key and a button.
func keyed(n, base int, key string) herald.SendBatch {
	b := batch(n, base, "Your order shipped.")
	b.IdempotencyKey = key
	b.Buttons = []herald.Button{{Type: "WL", Name: "Track", URLMobile: "https://example.com/t"}}
	return b
}
