package mockprovider

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald/infobank"
)

// common is the gateway part of an answer, with a fresh trace id.
func (s *Server) common(code, result string) infobank.Common {
	return infobank.Common{AuthCode: code, AuthResult: result, InfobankTrID: "MOCK" + strconv.FormatInt(s.trIDs.Add(1), 10)}
}

// writeError answers a service-level error: the gateway let the request
// through (A000) and the service refused it with code.
func (s *Server) writeError(w http.ResponseWriter, status int, code, result, ref string) {
	s.writeJSON(w, status, infobank.Envelope[struct{}]{
		Common: s.common(infobank.CodeSuccess, "Success"),
		Data:   &infobank.Result[struct{}]{Code: code, Result: result, Ref: ref},
	})
}

// writeUnauthorized answers a bad API key at the gateway: 401, no data.
func (s *Server) writeUnauthorized(w http.ResponseWriter) {
	s.writeJSON(w, http.StatusUnauthorized, infobank.Envelope[struct{}]{
		Common: s.common(infobank.CodeUnauthorized, "Unauthorized"),
	})
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encode answer", "err", err)
		http.Error(w, "encode answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// latency draws an answer time uniformly from Latency ± LatencySpread, or,
// for a share TailRate of answers, TailLatency (a long tail).
func (s *Server) latency() time.Duration {
	c := s.cfg
	if c.TailRate > 0 && s.dice.float() < c.TailRate {
		return c.TailLatency
	}
	if c.LatencySpread == 0 {
		return c.Latency
	}
	d := c.Latency + time.Duration((2*s.dice.float()-1)*float64(c.LatencySpread))
	return max(d, 0)
}

// pause waits d, less when the mock is stopping; false when the client left.
func (s *Server) pause(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.stopping:
	case <-r.Context().Done():
		return false
	}
	return true
}
