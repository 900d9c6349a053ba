package mockprovider_test

import (
	"bytes"
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

// BenchmarkMockSend measures the mock alone: batches of 100 recipients
// from the real client over loopback, no limit in the way, no reports.
func BenchmarkMockSend(b *testing.B) { benchSend(b, false, false) }

// BenchmarkMockSendWithReports adds a webhook report per recipient, posted
// to a trivial loopback receiver; the time includes draining them all.
func BenchmarkMockSendWithReports(b *testing.B) { benchSend(b, true, false) }

// BenchmarkMockSendPersonalised gives each recipient its own text, so the
// client sends one request per recipient (100 in parallel per batch).
func BenchmarkMockSendPersonalised(b *testing.B) { benchSend(b, false, true) }

func benchSend(b *testing.B, reports, personal bool) {
	const perBatch = 100
	m := startMock(b, func(c *mockprovider.Config) {
		c.TPS, c.Reports, c.ReportStore, c.ReportQueue = mockprovider.MaxTPS, mockprovider.ReportsOff, 100_000, 1<<20
		if reports {
			c.Reports, c.ReportURL = mockprovider.ReportsWebhook, benchReceiver(b)
		}
	})
	c, err := infobank.New(infobank.Config{BaseURL: m.url, APIKey: testKey, MaxConns: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var seq atomic.Int64
	b.SetParallelism(8)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := int(seq.Add(1))
			bt := batch(perBatch, n*perBatch, "Your order shipped.")
			for i := range bt.Destinations {
				if personal {
					bt.Destinations[i].Text += bt.Destinations[i].MessageID
				}
			}
			for _, o := range c.Send(b.Context(), bt) {
				if o.Kind != herald.Accepted {
					b.Errorf("outcome %+v", o)
					return
				}
			}
		}
	})
	if reports {
		stop(b, m.Server)
	}
	elapsed := time.Since(start)
	st := m.Stats()
	b.ReportMetric(float64(st.Accepted)/elapsed.Seconds(), "recipients/s")
	if reports && (st.ReportsAcked != st.Accepted || st.ReportsDropped != 0) {
		b.Errorf("accepted %d, reports acked %d, dropped %d", st.Accepted, st.ReportsAcked, st.ReportsDropped)
	}
}

// benchReceiver acknowledges every report with its msgKey, found without
// a JSON decoder to keep the receiver's cost out of the figure.
func benchReceiver(b *testing.B) string {
	key := []byte(`"msgKey":"`)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		i := bytes.Index(body, key)
		if i < 0 || len(body) < i+len(key)+32 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		msgKey := body[i+len(key) : i+len(key)+32]
		w.Write(append(append([]byte(`{"msgKey":"`), msgKey...), '"', '}'))
	}))
	b.Cleanup(ts.Close)
	return ts.URL
}
