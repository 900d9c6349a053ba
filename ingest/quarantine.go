package ingest

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
)

// A poison record is one whose commit fails for a reason of its own, not
// because the database is away: a report that trips a bug in the store
// (a panic), or data the database refuses every time. Replayed in order,
// it would hold up every record behind it for ever. So the replayer takes
// such a record apart: it commits the reports one at a time, and moves
// those that still fail to a quarantine file in the spool directory,
//
//	quarantine-<segment seq>-<record offset>.log
//
// holding one record in the spool's encoding. The file is written to a
// temporary name, fsynced and renamed before the replay goes on, and the
// segment is removed only after that: a crash in between replays the
// segment again, finds the file and skips the record (its other reports
// are stored already). Nothing acknowledged is lost, nor quarantined twice.
// Segment numbers stay above those of quarantine files, so a name never
// comes back for another record.

// poisonAfter is how many passes in a row a record's commit may fail, the
// database answering its ping each time, before the record is taken apart.
const poisonAfter = 3

const (
	quarantinePrefix = "quarantine-"
	quarantineSuffix = ".log"
	tmpSuffix        = ".tmp"
	pingTimeout      = 3 * time.Second
)

// errNoEvidence ends a pass whose poison candidate could not be told from
// a database that refuses every write: nothing committed after it yet.
var errNoEvidence = errors.New("report spool: a record fails alone and nothing after it has committed yet; waiting for a later commit before quarantining it")

// recordPos names a record: its segment and its offset there.
type recordPos struct {
	seq uint64
	off int64
}

// stuckRecord counts the passes in a row a record failed.
type stuckRecord struct {
	pos   recordPos
	fails int
}

// replayPass is the state of one pass over the segments.
type replayPass struct {
	suspect *suspect          // taken apart; its failures wait for evidence
	waiting []replayedSegment // replayed but for the suspect: removed once it is settled
}

// suspect is a poison candidate's reports that failed one at a time while
// nothing else committed: the database may simply refuse every write.
type suspect struct {
	pos      recordPos
	panicked []herald.Report
	refused  []herald.Report
	err      error
}

type replayedSegment struct {
	seg     segment
	records int
}

// poisoned reports whether a record's failed commit makes it poison: it
// panicked, or it failed poisonAfter passes in a row while the database
// answered (a store without Ping is taken to answer; the evidence of
// takeApart still guards against quarantining a database's refusal).
func (in *Ingest) poisoned(ctx context.Context, pos recordPos, err error) bool {
	if errors.Is(err, errCommitPanic) {
		return true
	}
	if p, ok := in.store.(interface{ Ping(context.Context) error }); ok {
		pctx, cancel := context.WithTimeout(ctx, pingTimeout)
		defer cancel()
		if p.Ping(pctx) != nil {
			return false // the database is away: not the record's fault
		}
	}
	st := &in.spool.stuck
	if st.pos != pos {
		*st = stuckRecord{pos: pos}
	}
	st.fails++
	return st.fails >= poisonAfter
}

// takeApart commits a poison record's reports one at a time and returns
// how many were stored. Those that fail go to quarantine at once when
// another one committed (the database takes writes: the fault is theirs,
// and the pass's suspect's too) or when they all panicked; otherwise they
// become the pass's suspect, settled by the next commit.
func (in *Ingest) takeApart(ctx context.Context, pos recordPos, batch []herald.Report, p *replayPass) (int, error) {
	stored, panicked, refused, err := in.commitEach(ctx, batch)
	switch {
	case stored > 0 && len(refused) > 0:
		// A second chance for the refused: the database may have come
		// back in the middle of the record.
		more, panickedAgain, stillRefused, retryErr := in.commitEach(ctx, refused)
		stored += more
		panicked, refused, err = append(panicked, panickedAgain...), stillRefused, cmp.Or(retryErr, err)
	case len(refused) > 0:
		if p.suspect != nil { // two records failing alone: the database refuses writes
			return stored, err
		}
		p.suspect = &suspect{pos: pos, panicked: panicked, refused: refused, err: err}
		return stored, nil
	}
	if err := in.quarantine(ctx, pos, append(panicked, refused...), err); err != nil {
		return stored, err
	}
	if stored > 0 && p.suspect != nil {
		return stored, in.settleSuspect(ctx, p)
	}
	return stored, nil
}

// settleSuspect quarantines the suspect now that another record committed,
// after one more try of its refused reports, and removes the segments that
// waited for it.
func (in *Ingest) settleSuspect(ctx context.Context, p *replayPass) error {
	s := p.suspect
	p.suspect = nil
	_, panicked, refused, retryErr := in.commitEach(ctx, s.refused)
	failed := append(append(s.panicked, panicked...), refused...)
	if err := in.quarantine(ctx, s.pos, failed, cmp.Or(retryErr, s.err)); err != nil {
		return err
	}
	for _, w := range p.waiting {
		if err := in.spool.replayed(w.seg, w.records); err != nil {
			return err
		}
	}
	p.waiting = nil
	return nil
}

// commitEach commits reports one at a time: how many were stored, those
// that panicked, those that failed otherwise, and the last failure.
func (in *Ingest) commitEach(ctx context.Context, reports []herald.Report) (stored int, panicked, refused []herald.Report, last error) {
	for i := range reports {
		err := in.safeCommit(ctx, reports[i:i+1])
		switch {
		case err == nil:
			stored++
		case errors.Is(err, errCommitPanic):
			panicked, last = append(panicked, reports[i]), err
		default:
			refused, last = append(refused, reports[i]), err
		}
	}
	in.countReplayed(stored)
	return stored, panicked, refused, last
}

// quarantine writes reports to the quarantine file of the record at pos,
// counts them and says so once in the log, with the count and never the
// reports.
func (in *Ingest) quarantine(ctx context.Context, pos recordPos, reports []herald.Report, cause error) error {
	if len(reports) == 0 {
		return nil
	}
	name, err := in.spool.writeQuarantine(pos, reports)
	if err != nil {
		return err
	}
	in.metrics.quarantined.Add(float64(len(reports)))
	attrs := []slog.Attr{slog.Int("reports", len(reports)), slog.String("file", name)}
	if cause != nil {
		attrs = append(attrs, slog.String("error", cause.Error()))
	}
	in.log.LogAttrs(ctx, slog.LevelError,
		"spooled reports quarantined: their commit fails while the database takes others; docs/INGEST.md tells how to replay them", attrs...)
	return nil
}

func (s *spool) quarantinePath(pos recordPos) string {
	return filepath.Join(s.dir, fmt.Sprintf("%s%016d-%012d%s", quarantinePrefix, pos.seq, pos.off, quarantineSuffix))
}

// writeQuarantine makes the quarantine file of pos durable under its final
// name and returns that name.
func (s *spool) writeQuarantine(pos recordPos, reports []herald.Report) (string, error) {
	path := s.quarantinePath(pos)
	tmp := path + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return "", fmt.Errorf("report quarantine: %w", err)
	}
	_, err = f.Write(encodeRecord(reports))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("report quarantine: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		return "", err
	}
	s.mu.Lock()
	s.quarantined[pos] = len(reports)
	s.mu.Unlock()
	return filepath.Base(path), nil
}

// isQuarantined reports whether the record at pos was taken apart before.
func (s *spool) isQuarantined(pos recordPos) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.quarantined[pos]
	return ok
}

// loadQuarantine finds the quarantine files an earlier run left, counts
// their reports, keeps new segment numbers above theirs, and removes the
// temporary files of a crash (their records are still in their segment).
func (s *spool) loadQuarantine() error {
	s.quarantined = map[recordPos]int{}
	files, err := QuarantineFiles(s.dir)
	if err != nil {
		return err
	}
	for _, path := range files {
		var pos recordPos
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), quarantinePrefix), quarantineSuffix)
		if _, err := fmt.Sscanf(name, "%d-%d", &pos.seq, &pos.off); err != nil {
			continue
		}
		n := 0
		err := readRecords(path, func(batch []herald.Report) error { n += len(batch); return nil })
		if err != nil {
			return err
		}
		s.quarantined[pos] = n
		s.nextSeq = max64(s.nextSeq, pos.seq+1)
	}
	tmps, err := filepath.Glob(filepath.Join(s.dir, quarantinePrefix+"*"+quarantineSuffix+tmpSuffix))
	if err != nil {
		return fmt.Errorf("report quarantine: %w", err)
	}
	for _, tmp := range tmps {
		if err := os.Remove(tmp); err != nil {
			return fmt.Errorf("report quarantine: %w", err)
		}
	}
	return nil
}

// QuarantineFiles lists the quarantine files in a spool directory, oldest
// first (by name: segment number, then offset).
func QuarantineFiles(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, quarantinePrefix+"*"+quarantineSuffix))
	if err != nil {
		return nil, fmt.Errorf("report quarantine: %w", err)
	}
	return files, nil // Glob sorts, and the numbers are zero-padded
}

// readRecords calls fn with each record of a spool or quarantine file, in
// order; a torn tail ends the file, as in the replay.
func readRecords(path string, fn func([]herald.Report) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("report spool: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("report spool: %w", err)
	}
	left := fi.Size()
	r := bufio.NewReader(f)
	for {
		batch, err := readRecord(r, &left)
		if errors.Is(err, io.EOF) || errors.Is(err, errBadRecord) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(batch); err != nil {
			return err
		}
	}
}

// ReplayQuarantine writes the reports of every quarantine file in a spool
// directory to store, one transaction per file, oldest first, and removes
// each file once its reports are in; copies of stored reports change
// nothing. It stops at the first file that fails (a panic of the store is
// returned as an error) and returns the files and reports done. It takes
// the spool's lock: the serve that owns the directory must be stopped.
func ReplayQuarantine(ctx context.Context, dir string, store ReportStore, now time.Time) (files, reports int, err error) {
	lock, err := lockDir(dir)
	if err != nil {
		return 0, 0, err
	}
	defer lock.Close()
	paths, err := QuarantineFiles(dir)
	if err != nil {
		return 0, 0, err
	}
	for _, path := range paths {
		var batch []herald.Report
		if err := readRecords(path, func(b []herald.Report) error { batch = append(batch, b...); return nil }); err != nil {
			return files, reports, err
		}
		if err := applyRecovered(ctx, store, batch, now); err != nil {
			return files, reports, fmt.Errorf("%s: %w", filepath.Base(path), err)
		}
		if err := os.Remove(path); err != nil {
			return files, reports, fmt.Errorf("report quarantine: %w", err)
		}
		if err := syncDir(dir); err != nil {
			return files, reports, err
		}
		files++
		reports += len(batch)
	}
	return files, reports, nil
}

// applyRecovered is store.ApplyReports with a panic returned as an error.
func applyRecovered(ctx context.Context, store ReportStore, batch []herald.Report, now time.Time) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: %s", errCommitPanic, panicText(v))
		}
	}()
	_, err = store.ApplyReports(ctx, batch, now)
	return err
}
