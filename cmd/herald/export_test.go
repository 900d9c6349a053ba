package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/progress"
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
