package http

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
)

// ImportResult is the answer of a member import. Every data row is counted
// exactly once: Rows = Inserted + Updated + Rejected + Duplicates, where
// Duplicates are rows whose id appeared earlier in the same file (the last
// row with an id wins) and Inserted/Updated count distinct ids.
type ImportResult struct {
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
	maxReportedRows = 100     // per list in ImportResult
	maxImportLine   = 1 << 20 // bytes in one line of an imported file
)

// Media types accepted by the import, by format.
var (
	csvTypes    = []string{"text/csv", "application/csv"}
	ndjsonTypes = []string{"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
)

type upsertFunc func(context.Context, []herald.Member) (herald.UpsertResult, error)

// importer validates decoded rows and upserts them in batches, so that an
// import of any size holds one batch plus one small hash per id seen.
type importer struct {
	upsert    upsertFunc
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
	res      ImportResult
}

func newImporter(upsert upsertFunc, batchSize int, now time.Time) *importer {
	return &importer{
		upsert:    upsert,
		batchSize: batchSize,
		now:       now,
		seed:      maphash.MakeSeed(),
		seen:      make(map[uint64]uint32),
		batch:     make([]herald.Member, 0, batchSize),
		inBatch:   make(map[string]int, batchSize),
		res:       ImportResult{Errors: []RowError{}},
	}
}

// result returns the counts so far.
func (im *importer) result() ImportResult { return im.res }

// imported is the number of rows stored so far.
func (im *importer) imported() int { return im.res.Inserted + im.res.Updated }

// add takes one decoded row: rejected when err is set or it does not
// validate, else queued (replacing an earlier row with the same id in the
// batch) and flushed when the batch is full.
func (im *importer) add(ctx context.Context, line int, m herald.Member, err error) error {
	im.res.Rows++
	if err == nil {
		err = validateMember(&m)
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

func (im *importer) reject(line int, err error) {
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
func (im *importer) run(ctx context.Context, decode func(*importer, context.Context, io.Reader) error, r io.Reader) error {
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
func (im *importer) flush(ctx context.Context) error {
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
func (im *importer) wait() error {
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

// validateMember applies the domain rules, then refuses NUL bytes, which
// PostgreSQL cannot store in text or jsonb and which would fail a whole batch.
func validateMember(m *herald.Member) error {
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

// importCSV reads a header row (id, phone, and optionally name and status;
// any other column is an attribute) and then one member per record.
// Malformed records are rejected with their line and the import goes on.
func (im *importer) importCSV(ctx context.Context, r io.Reader) error {
	g := &lineGuard{r: r, max: maxImportLine}
	cr := csv.NewReader(g)
	cr.FieldsPerRecord = -1 // counts are checked per row, so a bad row is not fatal
	cr.ReuseRecord = true
	header, err := cr.Read()
	switch {
	case errors.Is(err, io.EOF):
		return herald.Invalid("header", "the file is empty; its first line must be a header such as id,phone,name")
	case err != nil:
		return csvFatal(err)
	}
	cols, err := parseCSVHeader(header)
	if err != nil {
		return err
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return im.flush(ctx)
		}
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			err = im.add(ctx, pe.StartLine, herald.Member{}, herald.Invalid("",
				"malformed CSV at line %d, column %d: %v", pe.Line, pe.Column, pe.Err))
		case err != nil:
			return im.stop(ctx, err)
		default:
			line, _ := cr.FieldPos(0)
			m, rowErr := cols.member(rec)
			err = im.add(ctx, line, m, rowErr)
		}
		if err != nil {
			return err
		}
	}
}

// stop ends an import on a read error. A body over the limit still stores
// the complete rows read before it (run waits for them), so the count in
// the answer is exact.
func (im *importer) stop(ctx context.Context, readErr error) error {
	if err := im.flush(ctx); err != nil {
		return err
	}
	return readErr
}

func csvFatal(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return herald.Invalid("header", "malformed CSV at line %d, column %d: %v", pe.Line, pe.Column, pe.Err)
	}
	return err
}

// csvColumns maps the columns of a CSV file to member fields.
type csvColumns struct {
	n                     int
	id, phone, name, stat int   // column index, -1 when absent
	attrs                 []int // attribute columns
	header                []string
}

func parseCSVHeader(rec []string) (csvColumns, error) {
	c := csvColumns{n: len(rec), id: -1, phone: -1, name: -1, stat: -1, header: make([]string, len(rec))}
	seen := make(map[string]bool, len(rec))
	for i, h := range rec {
		if i == 0 {
			h = strings.TrimPrefix(h, "\uFEFF") // spreadsheet exports start with a BOM
		}
		h = strings.TrimSpace(h)
		key := strings.ToLower(h)
		switch {
		case h == "":
			return c, herald.Invalid("header", "column %d has no name", i+1)
		case seen[key]:
			return c, herald.Invalid("header", "column %q appears twice", h)
		}
		seen[key] = true
		c.header[i] = h
		switch key {
		case "id":
			c.id = i
		case "phone":
			c.phone = i
		case "name":
			c.name = i
		case "status":
			c.stat = i
		default:
			c.attrs = append(c.attrs, i)
		}
	}
	if c.id < 0 || c.phone < 0 {
		return c, herald.Invalid("header", "the header must name the columns id and phone (got %s)", strings.Join(c.header, ","))
	}
	return c, nil
}

// member builds the member of one record. Empty attribute cells are left
// out, so a sparse column does not give every member an empty attribute.
func (c *csvColumns) member(rec []string) (herald.Member, error) {
	if len(rec) != c.n {
		return herald.Member{}, herald.Invalid("", "the row has %d fields; the header has %d", len(rec), c.n)
	}
	m := herald.Member{ID: rec[c.id], Phone: rec[c.phone]}
	if c.name >= 0 {
		m.Name = rec[c.name]
	}
	if c.stat >= 0 {
		m.Status = herald.MemberStatus(strings.ToLower(strings.TrimSpace(rec[c.stat])))
	}
	for _, i := range c.attrs {
		if rec[i] == "" {
			continue
		}
		if m.Attributes == nil {
			m.Attributes = make(map[string]string, len(c.attrs))
		}
		m.Attributes[c.header[i]] = rec[i]
	}
	return m, nil
}

// lineGuard fails a read once a line grows past max bytes, so a file
// without newlines cannot make the CSV reader buffer it whole.
type lineGuard struct {
	r    io.Reader
	max  int
	run  int // bytes since the last newline
	line int // newlines seen
}

func (g *lineGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	for b := p[:n]; len(b) > 0; {
		i := bytes.IndexByte(b, '\n')
		if i < 0 || g.run+i > g.max {
			g.run += len(b)
			break
		}
		g.run, g.line, b = 0, g.line+1, b[i+1:]
	}
	if g.run > g.max {
		return 0, herald.Invalid("body", "line %d is longer than %d bytes", g.line+1, g.max)
	}
	return n, err
}

// importNDJSON reads one JSON member per line. Blank lines are skipped; a
// line that is too long or not a member is rejected and the import goes on.
func (im *importer) importNDJSON(ctx context.Context, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	for line := 1; ; line++ {
		text, tooLong, err := readLine(br, buf[:0], maxImportLine)
		buf = text
		if err != nil && !errors.Is(err, io.EOF) {
			return im.stop(ctx, err) // the last line may be cut short: drop it
		}
		if line == 1 {
			text = bytes.TrimPrefix(text, []byte("\uFEFF"))
		}
		if rowErr := im.ndjsonLine(ctx, line, text, tooLong); rowErr != nil {
			return rowErr
		}
		if err != nil {
			return im.flush(ctx)
		}
	}
}

func (im *importer) ndjsonLine(ctx context.Context, line int, text []byte, tooLong bool) error {
	if tooLong {
		return im.add(ctx, line, herald.Member{}, herald.Invalid("", "the line is longer than %d bytes", maxImportLine))
	}
	if len(bytes.TrimSpace(text)) == 0 {
		return nil
	}
	m, err := decodeNDJSONMember(text)
	return im.add(ctx, line, m, err)
}

// readLine appends the next line of br to buf without its line ending. A
// line longer than max is consumed and reported as tooLong, not kept.
func readLine(br *bufio.Reader, buf []byte, max int) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong && len(buf)+len(chunk) <= max+2 { // +2: the \r\n
			buf = append(buf, chunk...)
		} else {
			tooLong, buf = true, buf[:0]
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		buf = bytes.TrimSuffix(buf, []byte("\n"))
		buf = bytes.TrimSuffix(buf, []byte("\r"))
		return buf, tooLong, err
	}
}

// memberInput is a member as a client sends it: one NDJSON line, or the
// body the Client puts (the server sets updatedAt).
type memberInput struct {
	ID         string              `json:"id"`
	Phone      string              `json:"phone"`
	Name       string              `json:"name"`
	Status     herald.MemberStatus `json:"status"`
	Attributes map[string]string   `json:"attributes"`
}

func decodeNDJSONMember(text []byte) (herald.Member, error) {
	var row memberInput
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&row); err != nil {
		err = jsonError(err)
		if inv := (*herald.InvalidError)(nil); !errors.As(err, &inv) {
			err = herald.Invalid("", "%v", err)
		}
		return herald.Member{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return herald.Member{}, herald.Invalid("", "one JSON object per line: unexpected data after it")
	}
	return herald.Member{ID: row.ID, Phone: row.Phone, Name: row.Name, Status: row.Status, Attributes: row.Attributes}, nil
}
