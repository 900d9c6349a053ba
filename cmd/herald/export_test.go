package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/internal/progress"
	"github.com/heraldhq/herald/sqlite"
)

// exportCSV has a message with a line break and quotes inside a field.
const exportCSV = "\uFEFFid,member_id,message\n1,m1,\"안녕하세요\n두 줄 \"\"인용\"\"\"\n2,m2,plain\n"

// fakeExport serves campaign 7 and its CSV; broken ends the CSV midway
// the way the server does on a store error.
func fakeExport(t *testing.T, broken bool) (*httptest.Server, *string) {
	t.Helper()
	var query string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/campaigns/7", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(campaign(herald.CampaignCompleted, ""))
	})
	mux.HandleFunc("GET /v1/campaigns/7/recipients.csv", func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		io.WriteString(w, exportCSV)
		if broken {
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &query
}

func TestCampaignsExport(t *testing.T) {
	t.Parallel()
	srv, query := fakeExport(t, false)
	out, errOut, err := run(t, srv, "campaigns", "export", "7", "--bom")
	if err != nil || out != exportCSV || *query != "bom=1" {
		t.Fatalf("export: %v, query %q, stdout %q", err, *query, out)
	}
	if errOut != "" {
		t.Fatalf("no terminal, yet stderr says %q", errOut)
	}
	srv, _ = fakeExport(t, true)
	if _, _, err := run(t, srv, "campaigns", "export", "7"); err == nil || !strings.Contains(err.Error(), "broke off") {
		t.Fatalf("broken export ended with %v, want an error", err)
	}
}

func TestCSVRowsCountsRecordsNotLines(t *testing.T) {
	t.Parallel()
	var c csvRows
	// Fed a byte at a time, so a record split across writes counts right.
	for i := range len(exportCSV) {
		c.Write([]byte{exportCSV[i]})
	}
	if got := c.n.Load(); got != 2 {
		t.Fatalf("counted %d records, want 2", got)
	}
}

func TestReadCounterShowsBytesAndRows(t *testing.T) {
	t.Parallel()
	data := "id,phone\nm1,01012345678\nm2,01012345679\n"
	rc := &readCounter{r: strings.NewReader(data)}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	b := progress.NewBar(progress.NewPrinter(&out, false, 0))
	rc.draw(b, int64(len(data)), true)
	if line := out.String(); !strings.Contains(line, "] 39 B/39 B") || !strings.Contains(line, " 2 rows") {
		t.Fatalf("line %q, want all 39 bytes and 2 rows", line)
	}
}

// realAdmin serves the admin API on a SQLite store holding one prepared
// campaign of n members, nothing sent yet.
func realAdmin(t *testing.T, n int) (*httptest.Server, herald.Campaign) {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	now := time.Now().UTC()
	ms := make([]herald.Member, n)
	for i := range ms {
		ms[i] = herald.Member{ID: fmt.Sprintf("m%d", i), Phone: fmt.Sprintf("010%08d", i), Name: "회원", Status: herald.MemberActive, UpdatedAt: now}
	}
	ctx := t.Context()
	if _, err := store.UpsertMembers(ctx, ms); err != nil {
		t.Fatal(err)
	}
	tpl := demoTemplate()
	if _, err := store.CreateTemplate(ctx, tpl); err != nil {
		t.Fatal(err)
	}
	c := herald.Campaign{Name: "cli", TemplateCode: tpl.Code, Audience: herald.Audience{All: true}, TPS: 10, CreatedAt: now}
	if err := c.Validate(now); err != nil {
		t.Fatal(err)
	}
	if c, err = store.CreateCampaign(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := store.AcquireCampaignLease(ctx, "t", now, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := store.PrepareRecipients(ctx, c.ID, "t", now); err != nil {
		t.Fatal(err)
	}
	api, err := heraldhttp.NewServer(heraldhttp.ServerConfig{Store: store, AdminTokens: []string{"test-token-0123456789"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return srv, c
}

func TestCampaignsRecipientsAndExportAgainstTheServer(t *testing.T) {
	t.Parallel()
	srv, c := realAdmin(t, 300)
	id := fmt.Sprint(c.ID)
	out, _, err := run(t, srv, "campaigns", "recipients", id, "--phone", "010-0000-0007", "--state", "pending")
	if err != nil || !strings.Contains(out, "m7 ") || strings.Count(out, "\n") != 2 {
		t.Fatalf("recipients --phone: %v\n%s", err, out)
	}
	if _, _, err := run(t, srv, "campaigns", "recipients", id, "--channel", "FAX"); err == nil || !strings.Contains(err.Error(), "channel") {
		t.Fatalf("recipients --channel FAX: %v, want an error naming the channel", err)
	}
	var page []herald.Recipient
	out, _, err = run(t, srv, "campaigns", "recipients", id, "--member", "m7", "--json")
	if err != nil || json.Unmarshal([]byte(out), &page) != nil || len(page) != 1 {
		t.Fatalf("recipients --member --json: %v\n%s", err, out)
	}
	out, _, err = run(t, srv, "campaigns", "recipient", id, fmt.Sprint(page[0].ID))
	if err != nil || !strings.Contains(out, "not sent") || !strings.Contains(out, "created") || !strings.Contains(out, "pending") {
		t.Fatalf("recipient: %v\n%s", err, out)
	}
	out, _, err = run(t, srv, "campaigns", "export", id)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 301 || rows[1][1] != "m0" || rows[300][3] != "PENDING" {
		t.Fatalf("export: %d rows, %v", len(rows), err)
	}
}
