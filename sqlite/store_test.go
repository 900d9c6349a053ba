package sqlite_test

import (
	"path/filepath"
	"sync"
	"testing"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/storetest"
)

// newStore opens a fresh database file in the test's temp dir.
func newStore(t *testing.T) herald.Store {
	return openSame(t)()
}

// openSame opens one database file in the test's temp dir, anew at each call.
func openSame(t *testing.T) func() herald.Store {
	path := filepath.Join(t.TempDir(), "herald.db")
	return func() herald.Store {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, newStore)
}

func TestReopen(t *testing.T) {
	t.Parallel()
	storetest.RunReopen(t, openSame)
}

// TestInstanceIDConcurrentFirstOpen: processes opening a fresh database at
// once all migrate it and read the same instance id.
func TestInstanceIDConcurrentFirstOpen(t *testing.T) {
	if testing.Short() {
		t.Skip("slow (ten concurrent first opens, ~10 s); runs without -short")
	}
	t.Parallel()
	for range 10 {
		concurrentFirstOpen(t)
	}
}

func concurrentFirstOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	const n = 4
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := sqlite.Open(t.Context(), path)
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			ids[i] = s.InstanceID()
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("concurrent first opens read instance ids %q", ids)
		}
	}
}
