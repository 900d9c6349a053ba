package sqlite_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/storetest"
)

func BenchmarkApplyReports(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "h.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchApplyReports(b, s, nil)
}

// BenchmarkMatchPendingReports: a sweep of 1,000 and of 200 due reports
// that match nothing (the SQLite store takes them 200 per transaction).
func BenchmarkMatchPendingReports(b *testing.B) {
	for _, limit := range []int{1000, 200} {
		b.Run(fmt.Sprint("limit=", limit), func(b *testing.B) {
			s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "h.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.BenchMatchPending(b, s, limit)
		})
	}
}
