package mysql

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/mytest"
)

// TestSessionSettings: every connection of the pool runs with what the
// store depends on, whatever the server's defaults.
func TestSessionSettings(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), mytest.URL(t)+"?sql_mode=ANSI&parseTime=false")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mode, zone, charset, iso string
	err = s.db.QueryRowContext(t.Context(), `SELECT @@SESSION.sql_mode, @@SESSION.time_zone, @@SESSION.character_set_connection,
		COALESCE(@@SESSION.tx_isolation, '')`).Scan(&mode, &zone, &charset, &iso)
	if err != nil && strings.Contains(err.Error(), "tx_isolation") { // MySQL 8
		err = s.db.QueryRowContext(t.Context(), `SELECT @@SESSION.sql_mode, @@SESSION.time_zone, @@SESSION.character_set_connection,
			@@SESSION.transaction_isolation`).Scan(&mode, &zone, &charset, &iso)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"STRICT_ALL_TABLES", "NO_ZERO_DATE"} {
		if !strings.Contains(mode, m) {
			t.Errorf("sql_mode %q lacks %s", mode, m)
		}
	}
	if zone != "+00:00" || charset != "utf8mb4" || iso != "READ-COMMITTED" {
		t.Errorf("time_zone %q, character_set_connection %q, isolation %q", zone, charset, iso)
	}
}
