package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

// memStore is an UpsertMembers over a map that checks what the importer
// promises the store: valid members, no id twice in one batch.
type memStore struct {
	members map[string]herald.Member
	err     error // the first broken promise
}

func (s *memStore) upsert(_ context.Context, ms []herald.Member) (herald.UpsertResult, error) {
	var r herald.UpsertResult
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m.ID] && s.err == nil {
			s.err = fmt.Errorf("id %q twice in one batch", m.ID)
		}
		seen[m.ID] = true
		if err := ValidateMember(&m); err != nil && s.err == nil {
			s.err = fmt.Errorf("invalid member stored: %v", err)
		}
		if _, ok := s.members[m.ID]; ok {
			r.Updated++
		} else {
			r.Inserted++
		}
		s.members[m.ID] = m
	}
	return r, nil
}

// checkImport runs an import and checks the invariants that hold for any input.
func checkImport(t *testing.T, body string, batch int, decode func(*Importer, context.Context, io.Reader) error) {
	s := &memStore{members: map[string]herald.Member{}}
	im := New(s.upsert, batch, time.Unix(0, 0))
	err := im.run(context.Background(), decode, strings.NewReader(body))
	var inv *herald.InvalidError
	if err != nil && !errors.As(err, &inv) {
		t.Fatalf("error that is not invalid input: %v", err)
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
	r := im.Result()
	if r.Inserted+r.Updated+r.Rejected+r.Duplicates != r.Rows {
		t.Fatalf("counts do not add up: %+v", r)
	}
	if r.Inserted != len(s.members) || r.Updated != 0 {
		t.Fatalf("%d members stored into an empty store, result says %d inserted %d updated", len(s.members), r.Inserted, r.Updated)
	}
	if len(r.Errors) != min(r.Rejected, maxReportedRows) || len(r.Warnings) != min(r.Duplicates, maxReportedRows) {
		t.Fatalf("%d errors for %d rejected, %d warnings for %d duplicates", len(r.Errors), r.Rejected, len(r.Warnings), r.Duplicates)
	}
	lines := strings.Count(body, "\n") + 1
	for _, e := range append(r.Errors, r.Warnings...) {
		if e.Line < 1 || e.Line > lines || e.Message == "" {
			t.Fatalf("row error %+v in a body of %d lines", e, lines)
		}
	}
}

func FuzzImportCSV(f *testing.F) {
	for _, s := range []string{
		"id,phone,name\na,01012345678,x\n",
		"id,phone,name,status,tier\na,01012345678,x,withdrawn,1\na,010-1234-5678,y,,2\nb,bad,z,,\n",
		"id,phone\n\"a\nb\",01012345678\nc,\"0101\"2345678\n",
		"\uFEFFid,phone\r\na,+82 10 1234 5678\r\n,\r\n",
		"id,phone,name\na,01012345678\na,01012345678,x,y\n\"unterminated,01012345678,x\n",
		"phone,id\n01012345678,a\n01012345678,a\n01012345678,b\n",
		"",
		"id\n",
	} {
		f.Add(s, uint8(2))
	}
	f.Fuzz(func(t *testing.T, body string, batch uint8) {
		checkImport(t, body, int(batch%8)+1, (*Importer).importCSV)
	})
}

func FuzzImportNDJSON(f *testing.F) {
	for _, s := range []string{
		`{"id":"a","phone":"01012345678"}` + "\n" + `{"id":"a","phone":"01012345678","name":"b"}`,
		`{"id":"a","phone":"01012345678","attributes":{"k":"v"}}` + "\r\n\n" + `{"id":"b","x":1}`,
		"not json\n[1]\nnull\n{}\n" + `{"id":"a","phone":"01012345678"} {}`,
		`{"id":"a","phone":"01012345678","attributes":{"k":1}}`,
		"\uFEFF" + `{"id":"é","phone":"010-1234-5678","status":"withdrawn"}`,
	} {
		f.Add(s, uint8(1))
	}
	f.Fuzz(func(t *testing.T, body string, batch uint8) {
		checkImport(t, body, int(batch%8)+1, (*Importer).importNDJSON)
	})
}

func TestImportDedupesWithinABatch(t *testing.T) {
	t.Parallel()
	s := &memStore{members: map[string]herald.Member{}}
	im := New(s.upsert, 100, time.Unix(0, 0))
	body := "id,phone,name\na,01011111111,1\nb,01011111112,1\na,01011111113,2\na,01011111114,3\n"
	if err := im.run(context.Background(), (*Importer).importCSV, strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
	if got := s.members["a"].Name; got != "3" {
		t.Errorf("a = %q, want the last row", got)
	}
	if r := im.Result(); r.Inserted != 2 || r.Duplicates != 2 {
		t.Errorf("result %+v", r)
	}
}

// csvRows writes n member rows after a header.
func csvRows(n int) string {
	var b strings.Builder
	b.WriteString("id,phone,name,tier,city\n")
	for i := range n {
		fmt.Fprintf(&b, "member-%08d,010-%04d-%04d,회원 %d,gold,Seoul\n", i, i/10000%10000, i%10000, i)
	}
	return b.String()
}

// BenchmarkImportCSV measures decoding and validation alone, with a store
// that does nothing: the part of an import that is the server's own.
func BenchmarkImportCSV(b *testing.B) {
	const rows = 100_000
	body := csvRows(rows)
	discard := func(_ context.Context, ms []herald.Member) (herald.UpsertResult, error) {
		return herald.UpsertResult{Inserted: len(ms)}, nil
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		im := New(discard, 5000, time.Unix(0, 0)) // the server's default batch
		if err := im.run(context.Background(), (*Importer).importCSV, strings.NewReader(body)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}
