package mockprovider_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/heraldhq/herald/mockprovider"
)

// A provider that posts each report on a connection of its own and posts
// refused reports again until they land: every post is a new TCP
// connection, and a report refused more often than Bizgo's 3 retries
// still lands.
func TestWebhookNewConnectionUntilAcked(t *testing.T) {
	t.Parallel()
	const reports, refusals = 5, 5 // each report refused 5 times, more than the default 3 retries
	var mu sync.Mutex
	posts := map[string]int{}
	var calls atomic.Int64
	ts, conns := connCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		var rep struct {
			MsgKey string `json:"msgKey"`
		}
		json.Unmarshal(body, &rep)
		mu.Lock()
		posts[rep.MsgKey]++
		n := posts[rep.MsgKey]
		mu.Unlock()
		switch {
		case n <= refusals && n%2 == 1:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
		case n <= refusals:
			w.WriteHeader(http.StatusServiceUnavailable) // no Retry-After: the backoff
		default:
			io.WriteString(w, `{"msgKey":"`+rep.MsgKey+`"}`)
		}
	}))
	m := startMock(t, func(c *mockprovider.Config) {
		webhook(ts.URL)(c)
		c.ReportNewConnection, c.ReportRetries, c.ReportConcurrency = true, mockprovider.ReportRetriesUntilAcked, 2
	})
	if out := newClient(t, m.url).Send(t.Context(), batch(reports, 0, "x")); len(out) != reports {
		t.Fatalf("sent %d, want %d", len(out), reports)
	}
	stop(t, m.Server)
	st := m.Stats()
	const want = reports * (refusals + 1)
	if st.ReportsAcked != reports || st.ReportsGivenUp != 0 || st.ReportsSent != want ||
		st.ReportsRefused != reports*refusals || st.ReportsRetried != reports*refusals {
		t.Errorf("stats: sent %d acked %d refused %d retried %d given up %d; want %d sent, %d acked, %d refused and retried",
			st.ReportsSent, st.ReportsAcked, st.ReportsRefused, st.ReportsRetried, st.ReportsGivenUp, want, reports, reports*refusals)
	}
	if calls.Load() != want || conns.Load() != want {
		t.Errorf("%d posts on %d connections, want %d on as many", calls.Load(), conns.Load(), want)
	}
	for key, n := range posts {
		if n != refusals+1 {
			t.Errorf("report %s posted %d times, want %d", key, n, refusals+1)
		}
	}
}

// Without the option the posts share keep-alive connections, and the
// default retries give up: the behaviour of the default stays.
func TestWebhookKeepAliveByDefault(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	ts, conns := connCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	m := startMock(t, func(c *mockprovider.Config) {
		webhook(ts.URL)(c)
		c.ReportConcurrency = 1
	})
	newClient(t, m.url).Send(t.Context(), batch(2, 0, "x"))
	stop(t, m.Server)
	st := m.Stats()
	if st.ReportsGivenUp != 2 || st.ReportsSent != 8 || st.ReportsRefused != 8 || calls.Load() != 8 {
		t.Errorf("stats: sent %d refused %d given up %d (%d calls); want 2 given up after 4 posts each", st.ReportsSent, st.ReportsRefused, st.ReportsGivenUp, calls.Load())
	}
	if conns.Load() != 1 {
		t.Errorf("%d connections for %d posts one at a time, want 1 (keep-alive)", conns.Load(), calls.Load())
	}
}

// connCountingServer serves h until the test ends and counts the TCP
// connections it is given.
func connCountingServer(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int64) {
	var conns atomic.Int64
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return ts, &conns
}
