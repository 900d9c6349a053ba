package http

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/ingest"
)

// PathIntake is the route of the report intake's state.
const PathIntake = "/v1/reports/intake"

// IntakeStatus tells the state of the report intake; *ingest.Ingest is one.
type IntakeStatus interface {
	Status() ingest.Status
}

// intakeSlot holds the intake that GET /v1/reports/intake shows, if any.
type intakeSlot struct{ p atomic.Pointer[IntakeStatus] }

// ShowIntake makes GET /v1/reports/intake show intake's state. Until it is
// called the route answers {"enabled": false}: no webhook and no poller.
func (s *Server) ShowIntake(intake IntakeStatus) {
	s.intake.p.Store(&intake)
}

// intakeAnswer is the body of GET /v1/reports/intake.
type intakeAnswer struct {
	Enabled       bool `json:"enabled"`
	QueueDepth    int  `json:"queueDepth"`
	QueueCapacity int  `json:"queueCapacity"`
	// LastCommitError: when a batch's transaction last failed, null if none.
	LastCommitError *time.Time   `json:"lastCommitError"`
	Spool           *spoolAnswer `json:"spool"`
}

type spoolAnswer struct {
	Dir                string     `json:"dir"`
	Spooling           bool       `json:"spooling"`
	Bytes              int64      `json:"bytes"`
	MaxBytes           int64      `json:"maxBytes"`
	Records            *int       `json:"records"` // null: left by an earlier run, not counted yet
	Replayed           int64      `json:"replayed"`
	QuarantinedBatches int        `json:"quarantinedBatches"`
	QuarantinedReports int        `json:"quarantinedReports"`
	LastReplayFailure  *time.Time `json:"lastReplayFailure"`
}

func (s *Server) getIntake(w http.ResponseWriter, r *http.Request) {
	p := s.intake.p.Load()
	if p == nil {
		writeJSON(w, http.StatusOK, map[string]bool{"enabled": false})
		return
	}
	writeJSON(w, http.StatusOK, intakeBody((*p).Status()))
}

func intakeBody(st ingest.Status) intakeAnswer {
	a := intakeAnswer{Enabled: true, QueueDepth: st.QueueDepth, QueueCapacity: st.QueueCapacity}
	if !st.LastCommitError.IsZero() {
		t := st.LastCommitError.UTC()
		a.LastCommitError = &t
	}
	if sp := st.Spool; sp != nil {
		a.Spool = &spoolAnswer{Dir: sp.Dir, Spooling: sp.Spooling, Bytes: sp.Bytes, MaxBytes: sp.MaxBytes,
			Replayed: sp.Replayed, QuarantinedBatches: sp.QuarantinedBatches, QuarantinedReports: sp.QuarantinedReports}
		if sp.Records >= 0 {
			a.Spool.Records = &sp.Records
		}
		if !sp.LastReplayFailure.IsZero() {
			t := sp.LastReplayFailure.UTC()
			a.Spool.LastReplayFailure = &t
		}
	}
	return a
}
