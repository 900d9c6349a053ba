package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestReportStatementPlan keeps the report statement's plan as cheap as
// measured (README, "SQLite's report statement"): no sort of the batch,
// and each report's msgKey looked up once, whatever the chunk size.
func TestReportStatementPlan(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, n := range []int{1, 4, maxReportChunk} {
		args := make([]any, 1+8*n)
		rows, err := s.w.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+insertReportsQuery(n), args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notUsed int
			var detail string
			if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		all := strings.Join(plan, "\n")
		if strings.Contains(all, "TEMP B-TREE") {
			t.Errorf("chunk of %d: the plan sorts:\n%s", n, all)
		}
		if got := strings.Count(all, "recipients_msg_key"); got != 1 {
			t.Errorf("chunk of %d: the plan looks the msgKey up %d times, want once:\n%s", n, got, all)
		}
	}
}
