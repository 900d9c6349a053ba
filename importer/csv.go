package importer

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"strings"

	herald "github.com/heraldhq/herald"
)

// importCSV reads a header row (id, phone, and optionally name and status;
// any other column is an attribute) and then one member per record.
// Malformed records are rejected with their line and the import goes on.
func (im *Importer) importCSV(ctx context.Context, r io.Reader) error {
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
