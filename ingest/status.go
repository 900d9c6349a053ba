package ingest

import "time"

// Status is a snapshot of the intake, for the admin API and the dashboard.
type Status struct {
	// QueueDepth and QueueCapacity: reports waiting for a committer, and
	// the bound past which reports are refused 429.
	QueueDepth    int
	QueueCapacity int
	// LastCommitError is when a report batch's transaction last failed
	// (then spooled, or refused without a spool); zero if none in this run.
	LastCommitError time.Time
	// Spool is nil without Config.SpoolDir.
	Spool *SpoolStatus
}

// SpoolStatus is the state of the local spool.
type SpoolStatus struct {
	Dir string
	// Spooling: reports wait in the spool for the database, and new
	// batches join them there.
	Spooling bool
	Bytes    int64
	MaxBytes int64
	// Records waiting for the replay (a record is one batch); -1 when an
	// earlier run left segments whose records are not counted yet.
	Records int
	// Replayed is the number of spooled reports written to the database
	// since the start.
	Replayed int64
	// QuarantinedBatches and QuarantinedReports: what the quarantine
	// files in Dir hold, from this run and earlier ones.
	QuarantinedBatches int
	QuarantinedReports int
	// LastReplayFailure is when the database last refused the replay;
	// zero if it never did in this run.
	LastReplayFailure time.Time
}

// Status returns the intake's state now.
func (in *Ingest) Status() Status {
	st := Status{QueueDepth: in.QueueDepth(), QueueCapacity: in.QueueCapacity()}
	if ns := in.lastFailure.Load(); ns != 0 {
		st.LastCommitError = time.Unix(0, ns).UTC()
	}
	if in.spool != nil {
		sp := in.spool.status()
		st.Spool = &sp
	}
	return st
}

func (s *spool) status() SpoolStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := SpoolStatus{Dir: s.dir, Spooling: s.isDegr, Bytes: s.size, MaxBytes: s.max, Records: s.records,
		Replayed: s.replayedN, QuarantinedBatches: len(s.quarantined), LastReplayFailure: s.lastFailure}
	for _, n := range s.quarantined {
		st.QuarantinedReports += n
	}
	return st
}

// quarantinedReports is the number of reports in quarantine files; 0
// without a spool.
func (in *Ingest) quarantinedReports() int {
	if in.spool == nil {
		return 0
	}
	return in.spool.status().QuarantinedReports
}
