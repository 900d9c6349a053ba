package postgres_test

import (
	"context"
	"testing"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/storetest"
)

// TestConcurrentFirstOpen: 30 stores opened at once on one empty schema
// all migrate (or find it done) and agree on the instance id.
func TestConcurrentFirstOpen(t *testing.T) {
	if testing.Short() {
		t.Skip("slow (thirty concurrent first opens, ~8 s); runs without -short")
	}
	url := pgtest.URL(t)
	storetest.ConcurrentFirstOpen(t, 30, func(ctx context.Context) (herald.Store, error) {
		return postgres.Open(ctx, url)
	})
}
