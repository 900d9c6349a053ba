package http_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/sqlite"
)

func (e *env) importCSV(body string) response {
	e.t.Helper()
	return e.do("POST", "/v1/members/import", "text/csv", strings.NewReader(body))
}

func (e *env) member(id string) herald.Member {
	e.t.Helper()
	m, err := e.store.GetMember(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("member %q: %v", id, err)
	}
	return m
}

func wantCounts(t *testing.T, got heraldhttp.ImportResult, rows, inserted, updated, rejected, dups int) {
	t.Helper()
	if got.Rows != rows || got.Inserted != inserted || got.Updated != updated || got.Rejected != rejected || got.Duplicates != dups {
		t.Errorf("rows/inserted/updated/rejected/duplicates = %d/%d/%d/%d/%d, want %d/%d/%d/%d/%d",
			got.Rows, got.Inserted, got.Updated, got.Rejected, got.Duplicates, rows, inserted, updated, rejected, dups)
	}
	if got.Inserted+got.Updated+got.Rejected+got.Duplicates != got.Rows {
		t.Errorf("counts do not add up to %d rows: %+v", got.Rows, got)
	}
}

// wantRowErrors checks line:field of each reported row, in order.
func wantRowErrors(t *testing.T, got []heraldhttp.RowError, want ...string) {
	t.Helper()
	var have []string
	for _, e := range got {
		have = append(have, fmt.Sprintf("%d:%s", e.Line, e.Field))
		if e.Message == "" {
			t.Errorf("line %d: empty message", e.Line)
		}
	}
	if strings.Join(have, " ") != strings.Join(want, " ") {
		t.Errorf("rows reported %v, want %v (%+v)", have, want, got)
	}
}

func TestImportCSV(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := "\uFEFFid,phone,name,grade,status\r\n" +
		"m1,010-1234-5678,Kim,gold,\r\n" + // 2
		"m2,010-0000,Lee,silver,\r\n" + // 3: not a Korean mobile
		"m3,010-2222-3333,Park\r\n" + // 4: too few fields
		"m4,010-3333-4444,Ch\"oi,bronze,\r\n" + // 5: bare quote
		"m1,010-9999-8888,Kim2,platinum,\r\n" + // 6: duplicate of 2, wins
		"m5,+82 10 5555 6666,\"Multi\nline\",,withdrawn\n" + // 7-8
		"\n" + // 9: blank, skipped
		"m6,01012345678,Jung,gold,ACTIVE\n" + // 10
		",01012345678,NoID,,\n" + // 11: no id
		"m7,02-123-4567,Landline,,\n" + // 12: a landline
		"m8,010-7777-8888,Seo,gold,,extra\n" + // 13: too many fields
		"m9,010-7777-9999,Han,,maybe" // 14: bad status, no final newline
	var res heraldhttp.ImportResult
	e.importCSV(body).want(t, 200, &res)
	wantCounts(t, res, 11, 3, 0, 7, 1)
	wantRowErrors(t, res.Errors, "3:phone", "4:", "5:", "11:id", "12:phone", "13:", "14:status")
	wantRowErrors(t, res.Warnings, "6:id")
	if !strings.Contains(res.Warnings[0].Message, "line 2") {
		t.Errorf("warning %q does not name the earlier line", res.Warnings[0].Message)
	}

	m1 := e.member("m1")
	if m1.Phone != "01099998888" || m1.Name != "Kim2" || m1.Attributes["grade"] != "platinum" || m1.Status != herald.MemberActive {
		t.Errorf("m1 = %+v, want the last row", m1)
	}
	m5 := e.member("m5")
	if m5.Name != "Multi\nline" || m5.Status != herald.MemberWithdrawn || len(m5.Attributes) != 0 || m5.Phone != "01055556666" {
		t.Errorf("m5 = %+v", m5)
	}
	if m6 := e.member("m6"); m6.Status != herald.MemberActive {
		t.Errorf("m6 status %q", m6.Status)
	}
	for _, id := range []string{"m2", "m3", "m4", "m7", "m8", "m9"} {
		e.do("GET", "/v1/members/"+id, "", nil).wantError(t, 404, "not_found", "")
	}
}

func TestImportCSVCountsAcrossBatches(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *heraldhttp.ServerConfig) { c.ImportBatchSize = 2 })
	body := "id,phone,name\n" +
		"a,01011110001,a1\nb,01011110002,b1\nc,01011110003,c1\na,01011110004,a2\n" +
		"d,01011110005,d1\na,01011110006,a3\nb,01011110007,b2\n"
	var res heraldhttp.ImportResult
	e.importCSV(body).want(t, 200, &res)
	wantCounts(t, res, 7, 4, 0, 0, 3)
	wantRowErrors(t, res.Warnings, "5:id", "7:id", "8:id")
	if a, b := e.member("a"), e.member("b"); a.Name != "a3" || b.Name != "b2" {
		t.Errorf("a=%q b=%q, want the last rows a3, b2", a.Name, b.Name)
	}
	// The same file again updates every distinct id once.
	res = heraldhttp.ImportResult{}
	e.importCSV(body).want(t, 200, &res)
	wantCounts(t, res, 7, 0, 4, 0, 3)
}

func TestImportCSVBadHeader(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for name, body := range map[string]string{
		"empty":          "",
		"no phone":       "id,name\nx,y\n",
		"twice":          "id,phone,ID\n",
		"unnamed column": "id,phone,,x\n",
		"bad quote":      "id,\"phone\n",
	} {
		r := e.importCSV(body)
		if r.status != 400 {
			t.Errorf("%s: status %d, want 400: %s", name, r.status, r.body)
		}
		r.wantError(t, 400, "invalid", "header")
	}
}

func TestImportNDJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := `{"id":"n1","phone":"010-1111-2222","name":"A","attributes":{"tier":"1"}}` + "\n" +
		"\n" +
		`{"id":"n2","phone":"010-1111-3333","extra":1}` + "\n" + // 3
		`{"id":"n3","phone":"010-1111-4444","attributes":{"tier":2}}` + "\n" + // 4
		"not json\n" + // 5
		`{"id":"n1","phone":"010-1111-5555","status":"withdrawn"}` + "\r\n" + // 6: duplicate, wins
		`{"id":"n4","phone":"010-1111-6666"} {"id":"n5"}` + "\n" + // 7
		"[1,2]\n" + // 8
		`{"id":"n6","phone":"010-1111-7777","name":"끝"}` // 9, no final newline
	var res heraldhttp.ImportResult
	e.do("POST", "/v1/members/import", "application/x-ndjson", strings.NewReader(body)).want(t, 200, &res)
	wantCounts(t, res, 8, 2, 0, 5, 1)
	wantRowErrors(t, res.Errors, "3:extra", "4:attributes", "5:", "7:", "8:")
	wantRowErrors(t, res.Warnings, "6:id")
	if n1 := e.member("n1"); n1.Status != herald.MemberWithdrawn || n1.Phone != "01011115555" || len(n1.Attributes) != 0 {
		t.Errorf("n1 = %+v, want the last row", n1)
	}
	if n6 := e.member("n6"); n6.Name != "끝" {
		t.Errorf("n6 = %+v", n6)
	}
}

func TestImportContentType(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, ct := range []string{"", "application/json", "text/plain", "text/csv; charset=euc-kr", "garbage;;"} {
		r := e.do("POST", "/v1/members/import", ct, strings.NewReader("id,phone\nx,01012345678\n"))
		r.wantError(t, 415, "unsupported_media_type", "")
	}
	for _, ct := range []string{"text/csv; charset=utf-8", "TEXT/CSV", "application/csv"} {
		e.do("POST", "/v1/members/import", ct, strings.NewReader("id,phone\nx,01012345678\n")).want(t, 200, nil)
	}
	for _, ct := range []string{"application/x-ndjson", "application/jsonl"} {
		e.do("POST", "/v1/members/import", ct, strings.NewReader(`{"id":"y","phone":"01012345678"}`)).want(t, 200, nil)
	}
}

// rowSource generates a CSV file of size bytes without holding it.
type rowSource struct {
	size, done int
	i          int
	pending    []byte
}

func (s *rowSource) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && s.done < s.size {
		if len(s.pending) == 0 {
			if s.i == 0 {
				s.pending = []byte("id,phone,name\n")
			} else {
				s.pending = fmt.Appendf(nil, "g%07d,010-1234-%04d,Member %d\n", s.i, s.i%10000, s.i)
			}
			s.i++
		}
		c := copy(p[n:], s.pending[:min(len(s.pending), s.size-s.done)])
		s.pending, n, s.done = s.pending[c:], n+c, s.done+c
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

func TestImportTooLarge(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	e := newEnv(t, func(c *heraldhttp.ServerConfig) { c.MaxImportBytes = limit; c.ImportBatchSize = 1000 })
	r := e.do("POST", "/v1/members/import", "text/csv", &rowSource{size: 3 << 20})
	msg := r.wantError(t, 413, "too_large", "").Error.Message
	m := regexp.MustCompile(`^body exceeds 1048576 bytes; (\d+) rows before the limit were imported`).FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("message %q", msg)
	}
	n, _ := strconv.Atoi(m[1])
	// The rows are g0000001…; all complete rows before the limit are stored, none after.
	if n < 25000 {
		t.Fatalf("only %d rows imported before a 1 MiB limit", n)
	}
	e.member(fmt.Sprintf("g%07d", 1))
	e.member(fmt.Sprintf("g%07d", n))
	if _, err := e.store.GetMember(t.Context(), fmt.Sprintf("g%07d", n+1)); err == nil {
		t.Errorf("row %d, past the limit, was imported", n+1)
	}

	// The client gets the same answer as an error that says what happened.
	_, err := e.client().ImportMembers(t.Context(), &rowSource{size: 3 << 20}, "text/csv")
	var apiErr *heraldhttp.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 413 || !strings.Contains(apiErr.Message, "rows before the limit were imported") {
		t.Errorf("client error %v", err)
	}
}

func TestImportLineTooLong(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	long := strings.Repeat("x", 2<<20)
	r := e.importCSV("id,phone,name\nok,01012345678,a\nbad,01012345678," + long + "\n")
	e.member("ok") // the rows before it are kept
	if msg := r.wantError(t, 400, "invalid", "body").Error.Message; !strings.Contains(msg, "line 3") || !strings.Contains(msg, "1 rows before it were imported") {
		t.Errorf("message %q", msg)
	}
	// An NDJSON line that is too long is one rejected row.
	var res heraldhttp.ImportResult
	e.do("POST", "/v1/members/import", "application/x-ndjson",
		strings.NewReader(`{"id":"n","name":"`+long+`"}`+"\n"+`{"id":"n2","phone":"01012345678"}`)).want(t, 200, &res)
	wantCounts(t, res, 2, 1, 0, 1, 0)
	wantRowErrors(t, res.Errors, "1:")
}

func TestMemberRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var m herald.Member
	in := map[string]any{"phone": "010-1234-5678", "name": "Kim", "attributes": map[string]string{"tier": "gold"}}
	e.json("PUT", "/v1/members/k1", in).want(t, 201, &m)
	if m.ID != "k1" || m.Phone != "01012345678" || m.Status != herald.MemberActive || !m.UpdatedAt.Equal(testNow) {
		t.Errorf("created %+v", m)
	}
	in["name"] = "Kim2"
	e.json("PUT", "/v1/members/k1", in).want(t, 200, &m)
	e.do("GET", "/v1/members/k1", "", nil).want(t, 200, &m)
	if m.Name != "Kim2" || m.Attributes["tier"] != "gold" {
		t.Errorf("got %+v", m)
	}
	e.do("POST", "/v1/members/k1/withdraw", "", nil).want(t, 200, &m)
	if m.Status != herald.MemberWithdrawn {
		t.Errorf("withdrawn member has status %q", m.Status)
	}

	e.do("GET", "/v1/members/nobody", "", nil).wantError(t, 404, "not_found", "")
	e.do("POST", "/v1/members/nobody/withdraw", "", nil).wantError(t, 404, "not_found", "")
	e.json("PUT", "/v1/members/k2", map[string]any{"id": "other", "phone": "01012345678"}).wantError(t, 400, "invalid", "id")
	e.json("PUT", "/v1/members/k2", map[string]any{"phone": "+1 555 0100"}).wantError(t, 400, "invalid", "phone")
	e.json("PUT", "/v1/members/k2", map[string]any{"phone": "01012345678", "nmae": "typo"}).wantError(t, 400, "invalid", "nmae")
	e.json("PUT", "/v1/members/k2", map[string]any{"phone": "01012345678", "status": "gone"}).wantError(t, 400, "invalid", "status")
	e.json("PUT", "/v1/members/k2", map[string]any{"phone": "01012345678", "name": "a\x00b"}).wantError(t, 400, "invalid", "name")
	e.json("PUT", "/v1/members/k2", `{"phone": "01012345678"} {}`).wantError(t, 400, "invalid", "")
	e.json("PUT", "/v1/members/k2", `{"phone": 1}`).wantError(t, 400, "invalid", "phone")
	e.json("PUT", "/v1/members/k2", `{"phone": "01012345678", "updatedAt": "yesterday"}`).wantError(t, 400, "invalid", "")
	e.json("PUT", "/v1/members/k2", ``).wantError(t, 400, "invalid", "")
	e.do("PUT", "/v1/members/k2", "text/plain", strings.NewReader(`{}`)).wantError(t, 415, "unsupported_media_type", "")
	e.json("PUT", "/v1/members/k2", `{"phone":"01012345678","name":"`+strings.Repeat("x", 2<<20)+`"}`).wantError(t, 413, "too_large", "")
	if r := e.do("DELETE", "/v1/members/k1", "", nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: status %d", r.status)
	}
}

// hostile holds strings that break naive SQL, JSON, CSV or path handling.
var hostile = []string{
	`'; DROP TABLE members; --`,
	`Robert'); DROP TABLE templates;--`,
	`"double" and 'single' quotes`,
	`back\slash \\ and \n literal`,
	`김철수 🎉 한글`,
	`100% _wild_ %s`,
	`a/b?c#d e+f`,
}

func TestHostileStringsRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	for i, s := range hostile {
		id := s
		in := herald.Member{ID: id, Phone: fmt.Sprintf("0101234%04d", i), Name: s, Attributes: map[string]string{s: s, "k": s}}
		if _, err := c.PutMember(t.Context(), in); err != nil {
			t.Fatalf("put %q: %v", s, err)
		}
		got, err := c.GetMember(t.Context(), id)
		if err != nil {
			t.Fatalf("get %q: %v", s, err)
		}
		if got.ID != s || got.Name != s || got.Attributes[s] != s || got.Attributes["k"] != s {
			t.Errorf("round trip of %q gave %+v", s, got)
		}
	}
	// Through a CSV import, quoted as a spreadsheet would.
	var b strings.Builder
	b.WriteString("id,phone,name,note\n")
	for i, s := range hostile {
		q := `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
		fmt.Fprintf(&b, "csv-%d,0109999%04d,%s,%s\n", i, i, q, q)
	}
	var res heraldhttp.ImportResult
	e.importCSV(b.String()).want(t, 200, &res)
	wantCounts(t, res, len(hostile), len(hostile), 0, 0, 0)
	for i, s := range hostile {
		if m := e.member(fmt.Sprintf("csv-%d", i)); m.Name != s || m.Attributes["note"] != s {
			t.Errorf("csv row %d: %+v, want %q", i, m, s)
		}
	}
	// The tables are still there.
	if _, err := c.ListTemplates(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// failingStore fails every UpsertMembers after the first.
type failingStore struct {
	*sqlite.Store
	calls *atomic.Int32
}

func (s failingStore) UpsertMembers(ctx context.Context, ms []herald.Member) (herald.UpsertResult, error) {
	if s.calls.Add(1) > 1 {
		return herald.UpsertResult{}, errors.New("disk on fire")
	}
	return s.Store.UpsertMembers(ctx, ms)
}

func TestImportStoreFailure(t *testing.T) {
	t.Parallel()
	base := newEnv(t)
	e := newEnvWith(t, base.store, failingStore{Store: base.store, calls: new(atomic.Int32)},
		func(c *heraldhttp.ServerConfig) { c.ImportBatchSize = 2 })
	r := e.importCSV("id,phone\na,01011111111\nb,01011111112\nc,01011111113\nd,01011111114\ne,01011111115\n")
	msg := r.wantError(t, 500, "internal", "").Error.Message
	if msg != "import failed after 2 rows were imported; see the server log" {
		t.Errorf("message %q", msg)
	}
	e.member("b")
	if _, err := e.store.GetMember(t.Context(), "c"); err == nil {
		t.Error("c was stored by a failed batch")
	}
}
