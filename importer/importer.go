// Package importer reads members from CSV or NDJSON, validates every row
// and upserts them in batches: an import of any size holds one batch plus
// a small hash per id, reports each rejected row with its line, and counts
// every row exactly once.
package importer

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
)

// Result is the answer of a member import. Every data row is counted
// exactly once: Rows = Inserted + Updated + Rejected + Duplicates, where
// Duplicates are rows whose id appeared earlier in the same file (the last
// row with an id wins) and Inserted/Updated count distinct ids.
type Result struct {
	Rows       int `json:"rows"`
	Inserted   int `json:"inserted"`
	Updated    int `json:"updated"`
	Rejected   int `json:"rejected"`
	Duplicates int `json:"duplicates"`
	// Errors lists the first rejected rows; Warnings the first duplicates.
	Errors   []RowError `json:"errors"`
	Warnings []RowError `json:"warnings,omitempty"`
}

// RowError points at one row of an imported file. Line is the line number
// in the file where the row starts; in a CSV file the header is line 1.
type RowError struct {
	Line    int    `json:"line"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Import limits.
const (
	maxReportedRows = 100     // per list in Result
	maxImportLine   = 1 << 20 // bytes in one line of an imported file
)

// Format is the syntax of an imported file.
type Format uint8

// The formats an import reads.
const (
	CSV    Format = iota + 1 // a header row (id, phone, …), then one member per record
	NDJSON                   // one JSON member per line
)

// Media types accepted by the import, by format.
var (
	csvTypes    = []string{"text/csv", "application/csv"}
	ndjsonTypes = []string{"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
)

// FormatOf is the format of a (lower-case) media type; false when none reads it.
func FormatOf(mediaType string) (Format, bool) {
	switch {
	case slices.Contains(csvTypes, mediaType):
		return CSV, true
	case slices.Contains(ndjsonTypes, mediaType):
		return NDJSON, true
	}
	return 0, false
}

// UpsertFunc stores a batch of members, none of them twice: Store.UpsertMembers.
type UpsertFunc func(context.Context, []herald.Member) (herald.UpsertResult, error)

// Importer validates decoded rows and upserts them in batches, so that an
// import of any size holds one batch plus one small hash per id seen.
type Importer struct {
	upsert    UpsertFunc
	batchSize int
	now       time.Time

	// seen maps a hash of every id accepted so far to the line it was last
	// on: 12 bytes per id instead of the id itself. A collision (odds about
	// n²/2⁶⁵) only miscounts a duplicate; the data stays right because
	// dedupe within a batch is by the id itself.
	seed    maphash.Seed
	seen    map[uint64]uint32
	batch   []herald.Member
	inBatch map[string]int // id → index in batch
	repeats int            // members in batch whose id was flushed before
	// inFlight is the batch the store is working on while the next fills.
	inFlight *pendingUpsert
	res      Result
}

// New is an import that upserts batches of batchSize members through
// upsert, stamping each with now.
func New(upsert UpsertFunc, batchSize int, now time.Time) *Importer {
	return &Importer{
		upsert:    upsert,
		batchSize: batchSize,
		now:       now,
		seed:      maphash.MakeSeed(),
		seen:      make(map[uint64]uint32),
		batch:     make([]herald.Member, 0, batchSize),
		inBatch:   make(map[string]int, batchSize),
		res:       Result{Errors: []RowError{}},
	}
}

// Result returns the counts so far.
func (im *Importer) Result() Result { return im.res }

// Imported is the number of rows stored so far.
func (im *Importer) Imported() int { return im.res.Inserted + im.res.Updated }

// Run reads r in format f to its end, or to the first error that stops an
// import: a read error (the rows before it stay stored), a header that
// cannot be read, or a failed upsert. Rejected rows do not stop it.
func (im *Importer) Run(ctx context.Context, f Format, r io.Reader) error {
	decode := (*Importer).importNDJSON
	if f == CSV {
		decode = (*Importer).importCSV
	}
	return im.run(ctx, decode, r)
}

// add takes one decoded row: rejected when err is set or it does not
// validate, else queued (replacing an earlier row with the same id in the
// batch) and flushed when the batch is full.
func (im *Importer) add(ctx context.Context, line int, m herald.Member, err error) error {
	im.res.Rows++
	if err == nil {
		err = ValidateMember(&m)
	}
	if err != nil {
		im.reject(line, err)
		return nil
	}
	m.UpdatedAt = im.now
	h := maphash.String(im.seed, m.ID)
	prev, seen := im.seen[h]
	im.seen[h] = uint32(line)
	if seen {
		im.res.Duplicates++
		if len(im.res.Warnings) < maxReportedRows {
			msg := fmt.Sprintf("id %q is also on line %d; the last row wins", m.ID, prev)
			im.res.Warnings = append(im.res.Warnings, RowError{Line: line, Field: "id", Message: msg})
		}
	}
	if i, ok := im.inBatch[m.ID]; ok {
		im.batch[i] = m
		return nil
	}
	if seen {
		im.repeats++
	}
	im.inBatch[m.ID] = len(im.batch)
	im.batch = append(im.batch, m)
	if len(im.batch) >= im.batchSize {
		return im.flush(ctx)
	}
	return nil
}

func (im *Importer) reject(line int, err error) {
	im.res.Rejected++
	if len(im.res.Errors) >= maxReportedRows {
		return
	}
	re := RowError{Line: line, Message: err.Error()}
	var inv *herald.InvalidError
	if errors.As(err, &inv) {
		re.Field, re.Message = inv.Field, inv.Message
	}
	im.res.Errors = append(im.res.Errors, re)
}

// run decodes r with decode and waits for the last upsert, so that no
// upsert outlives the request. A failed upsert wins over a read error: the
// store failing is what the operator must hear about.
func (im *Importer) run(ctx context.Context, decode func(*Importer, context.Context, io.Reader) error, r io.Reader) error {
	err := decode(im, ctx, r)
	if werr := im.wait(); werr != nil {
		return werr
	}
	return err
}

// pendingUpsert is one batch on its way to the store.
type pendingUpsert struct {
	done    chan struct{}
	size    int
	repeats int
	res     herald.UpsertResult
	err     error
}

// flush hands the batch to the store in the background and starts a new
// one, so that decoding the next batch overlaps the database's work on this
// one. At most one batch is in flight: flush first waits for the previous.
func (im *Importer) flush(ctx context.Context) error {
	if err := im.wait(); err != nil {
		return err
	}
	if len(im.batch) == 0 {
		return nil
	}
	u := &pendingUpsert{done: make(chan struct{}), size: len(im.batch), repeats: im.repeats}
	go func(batch []herald.Member) {
		defer close(u.done)
		u.res, u.err = im.upsert(ctx, batch)
	}(im.batch)
	im.inFlight = u
	im.batch = make([]herald.Member, 0, im.batchSize)
	clear(im.inBatch)
	im.repeats = 0
	return nil
}

// wait waits for the batch in flight, if any, and counts it. The ids it
// repeats from earlier batches were counted already, so they count neither
// as inserted nor as updated.
func (im *Importer) wait() error {
	u := im.inFlight
	if u == nil {
		return nil
	}
	<-u.done
	im.inFlight = nil
	if u.err != nil {
		return fmt.Errorf("upsert %d members: %w", u.size, u.err)
	}
	fresh := u.size - u.repeats
	inserted := min(u.res.Inserted, fresh)
	im.res.Inserted += inserted
	im.res.Updated += fresh - inserted
	return nil
}

// ValidateMember applies the domain rules, then refuses NUL bytes, which
// PostgreSQL cannot store in text or jsonb and which would fail a whole batch.
func ValidateMember(m *herald.Member) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if hasNUL(m.ID) {
		return herald.Invalid("id", "must not contain NUL bytes")
	}
	if hasNUL(m.Name) {
		return herald.Invalid("name", "must not contain NUL bytes")
	}
	for k, v := range m.Attributes {
		if hasNUL(k) || hasNUL(v) {
			return herald.Invalid("attributes", "must not contain NUL bytes")
		}
	}
	return nil
}

func hasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }

// stop ends an import on a read error. A body over the limit still stores
// the complete rows read before it (run waits for them), so the count in
// the answer is exact.
func (im *Importer) stop(ctx context.Context, readErr error) error {
	if err := im.flush(ctx); err != nil {
		return err
	}
	return readErr
}
