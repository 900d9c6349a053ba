package postgres

import (
	"fmt"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
)

// TestApplyReportsPlannedOnce: batches of one report, the webhook at the
// send rate, run on the statement's generic plan from the first batch, and
// the connection's own plan_cache_mode is left as it was. In auto mode
// PostgreSQL would plan every such batch anew (a custom plan is cheaper for
// one row than the generic plan's estimate), paying the planning of the
// whole statement for each report.
func TestApplyReportsPlannedOnce(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), pgtest.URL(t)+"&pool_max_conns=1&default_query_exec_mode=cache_statement") // one session, its statements prepared
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 11, 25, 10, 30, 2, 0, time.UTC)
	const batches = 12
	for i := range batches {
		id := fmt.Sprint("plan-", i)
		if _, err := s.ApplyReports(t.Context(), []herald.Report{{MsgKey: id, Ref: id, Code: "SUC", ReportTime: at}}, at); err != nil {
			t.Fatal(err)
		}
	}
	var generic, custom int64
	if err := s.pool.QueryRow(t.Context(), `SELECT generic_plans, custom_plans FROM pg_prepared_statements
		WHERE statement = $1`, applyReports).Scan(&generic, &custom); err != nil {
		t.Fatal(err)
	}
	if generic != batches || custom != 0 {
		t.Errorf("%d batches of one: %d generic plans and %d custom, want %d and 0", batches, generic, custom, batches)
	}
	var mode string
	if err := s.pool.QueryRow(t.Context(), `SHOW plan_cache_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "auto" {
		t.Errorf("plan_cache_mode after ApplyReports is %q, want the session's auto", mode)
	}
}
