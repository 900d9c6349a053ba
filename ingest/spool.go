package ingest

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	herald "github.com/heraldhq/herald"
)

// The spool is a local write-ahead log of report batches that the database
// could not take in time (in the spirit of nyaruka/courier's). A batch is
// one record, appended and fsynced before its callers are answered; the
// replayer writes the records to the database in order and deletes a
// segment file once all of it is in. A record is
//
//	uint32 length | uint32 CRC-32C of the payload | payload
//
// so that a record torn by a crash (never acknowledged: its fsync did not
// return) is recognised and dropped. Replaying a record twice — after a
// crash between its commit and its segment's removal — stores and applies
// nothing twice: a report's copy is a no-op in every store.
//
// While the spool holds records not yet replayed it is "degraded": new
// batches join the spool behind them rather than race them to the database.
// A record that fails for a reason of its own is quarantined rather than
// retried for ever (quarantine.go).

// errSpoolFull refuses a batch that would take the spool past its bound.
var errSpoolFull = errors.New("report spool full")

const (
	segmentPrefix = "spool-"
	segmentSuffix = ".wal"
	recordHeader  = 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type spool struct {
	dir  string
	max  int64
	lock *os.File // flock of the directory: one process per spool

	mu       sync.Mutex
	cur      *os.File // segment being appended to, nil until the first append
	curSeq   uint64
	nextSeq  uint64
	size     int64 // bytes of every segment on disk
	records  int   // records not yet replayed
	isDegr   bool
	closing  bool
	wake     chan struct{}
	replayMu sync.Mutex // one replay pass at a time

	quarantined map[recordPos]int // quarantine files on disk: reports in each
	replayedN   int64             // reports replayed since the start
	lastFailure time.Time         // of the last replay pass the database refused
	stuck       stuckRecord       // the record failing lately; the replayer's own
}

// openSpool takes dir (creating it), locks it and counts what an earlier
// run left there, to be replayed.
func openSpool(dir string, max int64) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("report spool: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &spool{dir: dir, max: max, lock: lock, wake: make(chan struct{}, 1), nextSeq: 1}
	if err := s.loadQuarantine(); err != nil {
		lock.Close()
		return nil, err
	}
	segs, err := s.segments()
	if err != nil {
		lock.Close()
		return nil, err
	}
	for _, seg := range segs {
		fi, err := os.Stat(seg.path)
		if err != nil {
			lock.Close()
			return nil, fmt.Errorf("report spool: %w", err)
		}
		s.size += fi.Size()
		s.nextSeq = max64(s.nextSeq, seg.seq+1)
	}
	if len(segs) > 0 {
		s.isDegr = true
		s.records = -1 // unknown until replayed
	}
	return s, nil
}

func max64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

type segment struct {
	seq  uint64
	path string
}

// segments lists the segment files in order.
func (s *spool) segments() ([]segment, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("report spool: %w", err)
	}
	var out []segment
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, segmentPrefix) || !strings.HasSuffix(name, segmentSuffix) {
			continue
		}
		var seq uint64
		if _, err := fmt.Sscanf(strings.TrimSuffix(strings.TrimPrefix(name, segmentPrefix), segmentSuffix), "%d", &seq); err != nil {
			continue
		}
		out = append(out, segment{seq, filepath.Join(s.dir, name)})
	}
	slices.SortFunc(out, func(a, b segment) int { return cmp.Compare(a.seq, b.seq) })
	return out, nil
}

func (s *spool) segmentPath(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%s%016d%s", segmentPrefix, seq, segmentSuffix))
}

// degraded reports whether records wait for the replay.
func (s *spool) degraded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isDegr
}

// bytes is the spool's size on disk; 0 for a nil spool.
func (s *spool) bytes() int64 {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// append writes reports as one record and fsyncs it. The lock is held
// across the write and the fsync, so records keep their order and a
// second committer's record waits for the first's fsync (then both are
// on disk: the second fsync costs little).
func (s *spool) append(reports []herald.Report) error {
	rec := encodeRecord(reports)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.size+int64(len(rec)) > s.max {
		return errSpoolFull
	}
	if s.cur == nil {
		seq := s.nextSeq
		f, err := os.OpenFile(s.segmentPath(seq), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("report spool: %w", err)
		}
		if err := syncDir(s.dir); err != nil {
			f.Close()
			return err
		}
		s.cur, s.curSeq, s.nextSeq = f, seq, seq+1
	}
	if _, err := s.cur.Write(rec); err != nil {
		s.abandon()
		return fmt.Errorf("report spool: %w", err)
	}
	if err := s.cur.Sync(); err != nil {
		s.abandon()
		return fmt.Errorf("report spool: %w", err)
	}
	s.size += int64(len(rec))
	if s.records >= 0 {
		s.records++
	}
	s.isDegr = true
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// abandon stops appending to a segment whose write failed: what is in it
// is replayed (a torn tail is dropped), new records go to a new one.
func (s *spool) abandon() {
	s.cur.Close()
	s.cur = nil
}

// seal closes the segment being appended to, so that the replay may take
// it, and returns every segment on disk in order.
func (s *spool) seal() ([]segment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		s.cur.Close()
		s.cur = nil
	}
	return s.segments()
}

// replayed removes a segment whose records are all in the database, and
// leaves the degraded state when it was the last and nothing came since.
func (s *spool) replayed(seg segment, records int) error {
	fi, statErr := os.Stat(seg.path)
	if err := os.Remove(seg.path); err != nil {
		return fmt.Errorf("report spool: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if statErr == nil {
		s.size -= fi.Size()
	}
	if s.records >= records {
		s.records -= records
	}
	if s.cur == nil {
		if segs, err := s.segments(); err == nil && len(segs) == 0 {
			s.isDegr, s.records, s.size = false, 0, 0
		}
	}
	return nil
}

// committed notes that the record at pos is stored: it is not stuck.
func (s *spool) committed(pos recordPos) {
	if s.stuck.pos == pos {
		s.stuck = stuckRecord{}
	}
}

func (s *spool) addReplayed(reports int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replayedN += int64(reports)
}

// countReplayed books n spooled reports written to the database, in the
// metrics and in the spool's status.
func (in *Ingest) countReplayed(n int) {
	in.metrics.replayed.Add(float64(n))
	in.spool.addReplayed(n)
}

// failedAt notes when a replay pass last failed.
func (s *spool) failedAt(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastFailure = t
}

// close makes the replayer stop once it cannot make progress.
func (s *spool) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *spool) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// release closes the files; the spool is not used after.
func (s *spool) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		s.cur.Close()
		s.cur = nil
	}
	s.lock.Close()
}

func (in *Ingest) closeSpool() {
	if in.spool != nil {
		in.spool.release()
	}
}

// SpoolBytes is the size of the local spool: reports acknowledged but not
// yet in the database. Zero without a spool.
func (in *Ingest) SpoolBytes() int64 { return in.spool.bytes() }

// Spooling reports whether spooled reports wait for the database.
func (in *Ingest) Spooling() bool { return in.spool != nil && in.spool.degraded() }

// replayLoop writes spooled records to the database, in order, whenever
// there are any, retrying after a pause while the database refuses. It
// returns once the spool is closing and either empty or the database
// still refuses: what is left is replayed by the next start.
func (in *Ingest) replayLoop(ctx context.Context) {
	const minPause, maxPause = 250 * time.Millisecond, 2 * time.Second
	pause := minPause
	var lastLog time.Time
	for {
		closing := in.spool.isClosing()
		failed := false
		if in.spool.degraded() {
			n, err := in.replay(ctx)
			if n > 0 {
				in.log.LogAttrs(ctx, slog.LevelInfo, "spooled reports replayed", slog.Int("reports", n))
			}
			if err != nil {
				failed = true
				in.spool.failedAt(time.Now())
				if time.Since(lastLog) > 10*time.Second {
					lastLog = time.Now()
					in.log.LogAttrs(ctx, slog.LevelWarn, "spooled reports wait for the database",
						slog.Int64("spool_bytes", in.spool.bytes()), slog.String("error", err.Error()))
				}
				if closing {
					return
				}
			}
		} else if closing {
			return
		}
		if failed {
			// Backing off, deaf to new appends: each pass seals a segment,
			// and the database is not back because a batch was spooled.
			time.Sleep(pause)
			pause = min(2*pause, maxPause)
			continue
		}
		pause = minPause
		select {
		case <-in.spool.wake:
		case <-time.After(minPause):
		}
	}
}

// replay writes every sealed segment's records to the database and removes
// the segment; it stops at the first record the database refuses. A record
// that is poison (see poisoned) is taken apart instead: its reports that
// commit alone are stored, the rest go to quarantine, and the replay goes
// on behind it.
func (in *Ingest) replay(ctx context.Context) (int, error) {
	in.spool.replayMu.Lock()
	defer in.spool.replayMu.Unlock()
	segs, err := in.spool.seal()
	if err != nil {
		return 0, err
	}
	p := &replayPass{}
	total := 0
	for _, seg := range segs {
		n, records, err := in.replaySegment(ctx, seg, p)
		total += n
		if err != nil {
			return total, err
		}
		if p.suspect != nil { // kept until a later commit shows the database takes writes
			p.waiting = append(p.waiting, replayedSegment{seg, records})
			continue
		}
		if err := in.spool.replayed(seg, records); err != nil {
			return total, err
		}
	}
	if p.suspect != nil {
		return total, errNoEvidence
	}
	return total, nil
}

// replaySegment commits a segment's records in order. A segment replayed
// partly before (a failed commit, a crash) is replayed from its start:
// its first records are copies by then, which change nothing, and a record
// quarantined before is skipped (its other reports are stored already).
func (in *Ingest) replaySegment(ctx context.Context, seg segment, p *replayPass) (reports, records int, err error) {
	f, err := os.Open(seg.path)
	if err != nil {
		return 0, 0, fmt.Errorf("report spool: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, fmt.Errorf("report spool: %w", err)
	}
	left := fi.Size()
	r := bufio.NewReaderSize(f, 1<<20)
	g := replayGroup{max: in.cfg.BatchSize}
	for {
		pos := recordPos{seq: seg.seq, off: fi.Size() - left}
		batch, err := readRecord(r, &left)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A torn tail: it was never acknowledged. Nothing follows it.
			in.log.LogAttrs(ctx, slog.LevelWarn, "report spool: dropping a torn record at the end of a segment",
				slog.String("segment", filepath.Base(seg.path)), slog.String("error", err.Error()))
			break
		}
		if in.spool.isQuarantined(pos) {
			records++ // (counts matter only once the whole segment is done)
			continue
		}
		if g.add(pos, batch) {
			continue
		}
		n, m, err := in.commitGroup(ctx, &g, p)
		reports, records = reports+n, records+m
		if err != nil {
			return reports, records, err
		}
		g.add(pos, batch)
	}
	n, m, err := in.commitGroup(ctx, &g, p)
	return reports + n, records + m, err
}

// replayGroup holds consecutive records to commit in one transaction: a
// record is a batch as the committers formed it, often small under a
// steady stream, and one commit each would replay slower than new
// reports join the spool.
type replayGroup struct {
	max     int // reports
	records []spooledRecord
	size    int
}

type spooledRecord struct {
	pos   recordPos
	batch []herald.Report
}

func (g *replayGroup) empty() bool { return len(g.records) == 0 }

// add takes rec unless the group is full; a group takes at least one.
func (g *replayGroup) add(pos recordPos, batch []herald.Report) bool {
	if !g.empty() && g.size+len(batch) > g.max {
		return false
	}
	g.records = append(g.records, spooledRecord{pos, batch})
	g.size += len(batch)
	return true
}

// commitGroup commits the group's records together, or, when that fails,
// one at a time, so that a poison record is found and taken apart
// (replayRecord). It returns the reports stored and the records done, and
// empties the group.
func (in *Ingest) commitGroup(ctx context.Context, g *replayGroup, p *replayPass) (reports, records int, err error) {
	defer func() { g.records, g.size = g.records[:0], 0 }()
	if len(g.records) > 1 && in.safeCommit(ctx, distinctReports(g.records)) == nil {
		n, err := in.recordsStored(ctx, p, g.records...)
		return n, len(g.records), err
	}
	for _, rec := range g.records {
		n, err := in.replayRecord(ctx, rec, p)
		if err != nil {
			return reports, records, err
		}
		reports += n
		records++
	}
	return reports, records, nil
}

// distinctReports is the reports of records without copies: a report
// refused or timed out and posted again can be in two records.
func distinctReports(records []spooledRecord) []herald.Report {
	n := 0
	for _, rec := range records {
		n += len(rec.batch)
	}
	seen := make(map[string]struct{}, n)
	out := make([]herald.Report, 0, n)
	for _, rec := range records {
		for i := range rec.batch {
			k := reportKey(&rec.batch[i])
			if _, dup := seen[k]; dup {
				continue
			}
			seen[k] = struct{}{}
			out = append(out, rec.batch[i])
		}
	}
	return out
}

// recordsStored books records whose reports were committed and returns
// how many reports they hold; the commit is also the evidence the pass's
// suspect waited for.
func (in *Ingest) recordsStored(ctx context.Context, p *replayPass, recs ...spooledRecord) (int, error) {
	n := 0
	for _, rec := range recs {
		in.spool.committed(rec.pos)
		n += len(rec.batch)
	}
	in.countReplayed(n)
	if p.suspect != nil {
		return n, in.settleSuspect(ctx, p)
	}
	return n, nil
}

// replayRecord commits one record, or takes it apart when it is poison,
// and returns how many of its reports were stored.
func (in *Ingest) replayRecord(ctx context.Context, rec spooledRecord, p *replayPass) (int, error) {
	pos, batch := rec.pos, rec.batch
	err := in.safeCommit(ctx, batch)
	if err == nil {
		return in.recordsStored(ctx, p, rec)
	}
	// With a suspect waiting, only a panic is the record's own fault: any
	// other failure says the database still refuses writes.
	if (p.suspect != nil && !errors.Is(err, errCommitPanic)) || !in.poisoned(ctx, pos, err) {
		return 0, err
	}
	return in.takeApart(ctx, pos, batch, p)
}

// encodeRecord is the record of a batch, header included.
func encodeRecord(reports []herald.Report) []byte {
	n := recordHeader + binary.MaxVarintLen64
	for i := range reports {
		r := &reports[i]
		n += 8*binary.MaxVarintLen64 + len(r.MsgKey) + len(r.Ref) + len(r.ServiceType) + len(r.MsgType) +
			len(r.ReportType) + len(r.Code) + len(r.Text) + len(r.Raw) + 2*binary.MaxVarintLen64 + 2
	}
	b := make([]byte, recordHeader, n)
	b = binary.AppendUvarint(b, uint64(len(reports)))
	for i := range reports {
		r := &reports[i]
		for _, s := range []string{r.MsgKey, r.Ref, r.ServiceType, r.MsgType, r.ReportType, r.Code, r.Text} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
		b = binary.AppendUvarint(b, uint64(len(r.Raw)))
		b = append(b, r.Raw...)
		b = appendTime(b, r.SendTime)
		b = appendTime(b, r.ReportTime)
	}
	binary.LittleEndian.PutUint32(b[0:4], uint32(len(b)-recordHeader))
	binary.LittleEndian.PutUint32(b[4:8], crc32.Checksum(b[recordHeader:], castagnoli))
	return b
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	return binary.AppendVarint(b, t.UnixNano())
}

var errBadRecord = errors.New("malformed spool record")

// readRecord reads the next record; io.EOF at a clean end. left is how
// many bytes are left to read: a length past it is a torn record, not an
// allocation to make.
func readRecord(r *bufio.Reader, left *int64) ([]herald.Report, error) {
	var h [recordHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, errBadRecord
	}
	n := binary.LittleEndian.Uint32(h[0:4])
	if int64(n) > *left-recordHeader {
		return nil, errBadRecord
	}
	*left -= recordHeader + int64(n)
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, errBadRecord
	}
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(h[4:8]) {
		return nil, errBadRecord
	}
	return decodeRecord(payload)
}

// decodeRecord parses a payload that passed its checksum.
func decodeRecord(p []byte) ([]herald.Report, error) {
	d := decoder{p: p}
	count := d.uvarint()
	if d.err != nil || count > uint64(len(p)) {
		return nil, errBadRecord
	}
	out := make([]herald.Report, 0, count)
	for range count {
		var r herald.Report
		for _, s := range []*string{&r.MsgKey, &r.Ref, &r.ServiceType, &r.MsgType, &r.ReportType, &r.Code, &r.Text} {
			*s = string(d.bytes())
		}
		if raw := d.bytes(); raw != nil {
			r.Raw = raw
		} else {
			r.Raw = []byte{}
		}
		r.SendTime, r.ReportTime = d.time(), d.time()
		if d.err != nil {
			return nil, d.err
		}
		out = append(out, r)
	}
	if len(d.p) != 0 {
		return nil, errBadRecord
	}
	return out, nil
}

type decoder struct {
	p   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.err = errBadRecord
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.p)) {
		d.err = errBadRecord
		return nil
	}
	b := d.p[:n:n]
	d.p = d.p[n:]
	return b
}

func (d *decoder) time() time.Time {
	if d.err != nil || len(d.p) == 0 {
		d.err = errBadRecord
		return time.Time{}
	}
	set := d.p[0]
	d.p = d.p[1:]
	if set == 0 {
		return time.Time{}
	}
	v, n := binary.Varint(d.p)
	if n <= 0 {
		d.err = errBadRecord
		return time.Time{}
	}
	d.p = d.p[n:]
	return time.Unix(0, v).UTC()
}
