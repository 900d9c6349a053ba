package mockprovider

import (
	"net/http"
	"sync"
	"time"

	"github.com/heraldhq/herald/infobank"
)

// apiLimit is the provider's limit on the non-send APIs (inquiry, polling,
// ack, templates): a number of requests in any trailing second, per
// account, independent of the send limit. It also keeps the busiest
// trailing second of arrivals, refused ones included, so that a test can
// check the client never asked more often than allowed.
type apiLimit struct {
	mu       sync.Mutex
	limit    int
	accepted *window // requests let through
	arrived  *window // every request, refused or not
	requests int64
	refused  int64
	maxSeen  int
	perKind  map[string]int64
}

func newAPILimit(limit int) *apiLimit {
	return &apiLimit{limit: limit, accepted: newWindow(time.Second), arrived: newWindow(time.Second), perKind: map[string]int64{}}
}

// admit counts one request of kind at now and reports whether it may be
// served.
func (l *apiLimit) admit(kind string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests++
	l.perKind[kind]++
	if n := l.arrived.add(now, 1); n > l.maxSeen {
		l.maxSeen = n
	}
	if l.limit > 0 && l.accepted.count(now) >= l.limit {
		l.refused++
		return false
	}
	l.accepted.add(now, 1)
	return true
}

func (l *apiLimit) snapshot(st *Stats) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st.APIRate = l.limit
	st.APIRequests, st.APIRefusedRateLimit, st.APIMaxWindow = l.requests, l.refused, l.maxSeen
	st.APIRequestsByKind = make(map[string]int64, len(l.perKind))
	for k, v := range l.perKind {
		st.APIRequestsByKind[k] = v
	}
}

func (l *apiLimit) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.accepted, l.arrived = newWindow(time.Second), newWindow(time.Second)
	l.requests, l.refused, l.maxSeen = 0, 0, 0
	l.perKind = map[string]int64{}
}

// enterAPI authorizes and rate-limits a non-send request; false means it
// has been answered already.
func (s *Server) enterAPI(w http.ResponseWriter, r *http.Request, kind string) bool {
	if !s.authorized(r) {
		s.writeUnauthorized(w)
		return false
	}
	if !s.api.admit(kind, s.cfg.Now()) {
		s.writeRateLimited(w, "Too many requests per second on the non-send APIs", "")
		return false
	}
	return true
}

// writeRateLimited answers A020: as HTTP 429 with Retry-After (the
// documented answer), or, with RateLimitAnswer "200", inside an HTTP 200 as
// the official SDK's test fake does. Nothing of the request was taken.
func (s *Server) writeRateLimited(w http.ResponseWriter, text, ref string) {
	if s.cfg.RateLimitAnswer == RateLimitIn200 {
		s.writeError(w, http.StatusOK, infobank.CodeRateLimited, text, ref)
		return
	}
	w.Header().Set("Retry-After", "1")
	s.writeError(w, http.StatusTooManyRequests, infobank.CodeRateLimited, text, ref)
}

// handleUnknown answers a route the gateway does not know as the provider
// does: JSON with common.authCode, HTTP 404, never plain text.
func (s *Server) handleUnknown(w http.ResponseWriter, _ *http.Request) {
	s.writeJSON(w, http.StatusNotFound, infobank.Envelope[struct{}]{Common: s.common(infobank.CodeNotFound, "Not Found")})
}

// noMillis rewrites a report's times without fractional seconds, as the
// polling and inquiry APIs write them (yyyy-MM-dd'T'HH:mm:ssXXX); the
// webhook keeps them.
func noMillis(b infobank.ReportBody) infobank.ReportBody {
	b.ReportTime = trimMillis(b.ReportTime)
	b.SendTime = trimMillis(b.SendTime)
	return b
}

func trimMillis(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.Format(infobank.TimeLayoutSeconds)
}
