package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/infobank"
	"github.com/heraldhq/herald/ingest"
	"github.com/heraldhq/herald/internal/reporttest"
)

// FuzzReportHandler feeds arbitrary bodies to the webhook over a real SQLite
// store: it never panics, answers only 200, 400, 413 or 415 (503 only when
// the store failed), and whatever reaches the store is something every
// engine can keep.
func FuzzReportHandler(f *testing.F) {
	f.Add(reporttest.Bizgo("K1", "h1-1", "ALIMTALK", "10000", reporttest.Epoch), "application/json")
	f.Add(infobank.EncodeSeedReport(herald.Report{MsgKey: "h1-1", ReportTime: reporttest.Epoch, Code: "E105", Text: "x"}), "")
	f.Add([]byte(`{"messageId":null,"msgKey":"","resultCode":"SUC"}`), "application/json; charset=utf-8")
	f.Add([]byte(`{"msgKey":"K\u0000","serviceType":"SMS","reportTime":"2026-11-25T10:30:02Z","reportType":"0","reportCode":"1"}`), "application/json")
	f.Add([]byte(`{"messageId":"\xff\xfe","resultCode":"SUC","reportTime":"0000-01-01 00:00:00"}`), "application/json")
	f.Add([]byte(`[]`), "text/plain")
	var store *checkStore
	e := newReportEnvWith(f, heraldhttp.ReportConfig{Tokens: []string{reporttest.TokenA}},
		ingest.Config{BatchSize: 1, FlushInterval: time.Nanosecond},
		func(s herald.Store) herald.Store { store = &checkStore{Store: s}; return store })
	h := e.Srv.Config.Handler
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		req := httptest.NewRequest(http.MethodPost, heraldhttp.PathReports, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+reporttest.TokenA)
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if v := store.violation(); v != "" {
			t.Fatalf("the store was given %s", v)
		}
		switch rec.Code {
		case 200:
			var ack struct{ MsgKey, MessageID string }
			if err := json.Unmarshal(rec.Body.Bytes(), &ack); err != nil || ack.MsgKey+ack.MessageID == "" {
				t.Fatalf("200 with body %q", rec.Body)
			}
		case 400, 413, 415:
			if !strings.Contains(rec.Body.String(), `"error":{"code":`) {
				t.Fatalf("%d with body %q", rec.Code, rec.Body)
			}
		case 503:
			if !store.failed() {
				t.Fatalf("503 without a store error: %q", rec.Body)
			}
		default:
			t.Fatalf("status %d for body %q (%q)", rec.Code, body, rec.Body)
		}
	})
}

// checkStore checks every report it is given against what the stores need.
type checkStore struct {
	herald.Store
	mu   sync.Mutex
	bad  string
	errs int
}

func (s *checkStore) ApplyReports(ctx context.Context, rs []herald.Report, now time.Time) (herald.ReportResult, error) {
	for _, r := range rs {
		if v := check(r); v != "" {
			s.mu.Lock()
			s.bad = fmt.Sprintf("%s in %+v", v, r)
			s.mu.Unlock()
		}
	}
	res, err := s.Store.ApplyReports(ctx, rs, now)
	if err != nil {
		s.mu.Lock()
		s.errs++
		s.mu.Unlock()
	}
	return res, err
}

func (s *checkStore) violation() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bad
}

func (s *checkStore) failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errs > 0
}

func check(r herald.Report) string {
	for name, v := range map[string]string{"msgKey": r.MsgKey, "ref": r.Ref, "serviceType": r.ServiceType,
		"msgType": r.MsgType, "reportType": r.ReportType, "code": r.Code, "text": r.Text} {
		switch {
		case !utf8.ValidString(v):
			return name + " not UTF-8"
		case strings.IndexByte(v, 0) >= 0:
			return name + " with NUL"
		case len(v) > ingest.MaxTextLength:
			return name + " too long"
		}
	}
	switch {
	case r.MsgKey == "" || r.ServiceType == "" || r.Code == "":
		return "a required field empty"
	case r.Raw == nil:
		return "no raw body"
	}
	return ""
}
