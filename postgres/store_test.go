package postgres_test

import (
	"testing"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/storetest"
)

// newStore opens a store on a schema of its own.
func newStore(t *testing.T) herald.Store {
	s, err := postgres.Open(t.Context(), pgtest.URL(t))
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

// TestConformanceWithoutPreparedStatements runs the suite as behind a
// connection pooler in transaction mode, where pgx is told not to prepare
// statements (default_query_exec_mode exec or simple_protocol in the URL):
// every parameter must then encode without the types the server would
// have described.
func TestConformanceWithoutPreparedStatements(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T) herald.Store {
				s, err := postgres.Open(t.Context(), pgtest.URL(t)+"&default_query_exec_mode="+mode)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			})
		})
	}
}
