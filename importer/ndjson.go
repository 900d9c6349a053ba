package importer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/strictjson"
)

// importNDJSON reads one JSON member per line. Blank lines are skipped; a
// line that is too long or not a member is rejected and the import goes on.
func (im *Importer) importNDJSON(ctx context.Context, r io.Reader) error {
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

func (im *Importer) ndjsonLine(ctx context.Context, line int, text []byte, tooLong bool) error {
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

// MemberInput is a member as a client sends it: one NDJSON line, or the
// body the HTTP client puts (the server sets updatedAt).
type MemberInput struct {
	ID         string              `json:"id"`
	Phone      string              `json:"phone"`
	Name       string              `json:"name"`
	Status     herald.MemberStatus `json:"status"`
	Attributes map[string]string   `json:"attributes"`
}

func decodeNDJSONMember(text []byte) (herald.Member, error) {
	var row MemberInput
	if err := strictjson.Decode(bytes.NewReader(text), &row, "one JSON object per line: unexpected data after it"); err != nil {
		if inv := (*herald.InvalidError)(nil); !errors.As(err, &inv) {
			err = herald.Invalid("", "%v", err)
		}
		return herald.Member{}, err
	}
	return herald.Member{ID: row.ID, Phone: row.Phone, Name: row.Name, Status: row.Status, Attributes: row.Attributes}, nil
}
