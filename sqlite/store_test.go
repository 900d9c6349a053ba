package sqlite_test

import (
	"path/filepath"
	"testing"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/storetest"
)

// newStore opens a fresh database file in the test's temp dir.
func newStore(t *testing.T) herald.Store {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, newStore)
}
