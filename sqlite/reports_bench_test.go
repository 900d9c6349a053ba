package sqlite_test

import (
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
