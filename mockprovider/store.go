package mockprovider

import (
	"strconv"
	"sync"
	"time"

	"github.com/heraldhq/herald/infobank"
)

// store keeps reports for inquiry (by msgKey, the newest max msgKeys) and,
// in polling mode, a queue of reports not yet fetched (at most max; the
// oldest are dropped, as the provider drops them after 3 days). A report
// shows only from its due time on, as if the phone had just answered.
type store struct {
	mu       sync.Mutex
	max      int
	polling  bool
	byKey    map[string][]stored
	keyOrder []string               // insertion order of byKey, a queue
	queue    []stored               // in due order: the report delay is constant
	batch    *infobank.PollingBatch // handed out, not yet acknowledged
	batchSeq int64
	polled   int64
	batches  int64 // batches handed out for the first time
	redeliv  int64 // an unacknowledged batch handed out again
	acked    int64 // reports of acknowledged batches
}

// stored is a report and the time it becomes visible.
type stored struct {
	body infobank.ReportBody
	due  time.Time
}

func newStore(max int, polling bool) *store {
	return &store{max: max, polling: polling, byKey: make(map[string][]stored)}
}

// add keeps a report for inquiry and, when polling, for the next batch.
func (s *store) add(r infobank.ReportBody, due time.Time) {
	if s.max == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byKey[r.MsgKey]; !ok {
		s.keyOrder = append(s.keyOrder, r.MsgKey)
		if len(s.keyOrder) > s.max {
			delete(s.byKey, s.keyOrder[0])
			s.keyOrder = s.keyOrder[1:]
		}
	}
	x := stored{body: r, due: due}
	s.byKey[r.MsgKey] = append(s.byKey[r.MsgKey], x)
	if s.polling {
		if len(s.queue) >= s.max {
			s.queue = s.queue[1:]
		}
		s.queue = append(s.queue, x)
	}
}

// inquire returns the reports of msgKey due by now.
func (s *store) inquire(msgKey string, now time.Time) []infobank.ReportBody {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []infobank.ReportBody{}
	for _, x := range s.byKey[msgKey] {
		if !x.due.After(now) {
			out = append(out, noMillis(x.body))
		}
	}
	return out
}

// poll returns the batch awaiting acknowledgement, or a new one of up to
// 1,000 reports due by now; nil when there is nothing to fetch.
func (s *store) poll(now time.Time) *infobank.PollingBatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.batch != nil {
		s.redeliv++
		return s.batch
	}
	n := 0
	for n < len(s.queue) && n < infobank.MaxPollingBatch && !s.queue[n].due.After(now) {
		n++
	}
	if n == 0 {
		return nil
	}
	s.batchSeq++
	s.batch = &infobank.PollingBatch{ReportID: "R" + strconv.FormatInt(s.batchSeq, 10), Report: make([]infobank.ReportBody, n)}
	for i, x := range s.queue[:n] {
		s.batch.Report[i] = noMillis(x.body)
	}
	s.queue = s.queue[n:]
	s.polled += int64(n)
	s.batches++
	return s.batch
}

// ack drops the batch handed out; false when id is not that batch.
func (s *store) ack(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.batch == nil || s.batch.ReportID != id {
		return false
	}
	s.acked += int64(len(s.batch.Report))
	s.batch = nil
	return true
}

func (s *store) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byKey = make(map[string][]stored)
	s.keyOrder, s.queue, s.batch, s.polled = nil, nil, nil, 0
	s.batches, s.redeliv, s.acked = 0, 0, 0
}

func (s *store) snapshot(st *Stats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st.ReportsPolled = s.polled
	st.ReportsAwaitingPoll = len(s.queue)
	st.PollBatches, st.PollRedelivered, st.PollAcked = s.batches, s.redeliv, s.acked
	if s.batch != nil {
		st.PollOutstanding = len(s.batch.Report)
	}
}
