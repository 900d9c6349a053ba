package mysql_test

import (
	"context"
	"testing"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/mytest"
	"github.com/heraldhq/herald/mysql"
	"github.com/heraldhq/herald/storetest"
)

// TestConcurrentFirstOpen: 30 stores opened at once on one empty database
// all migrate (or find it done) and agree on the instance id.
func TestConcurrentFirstOpen(t *testing.T) {
	if testing.Short() {
		t.Skip("slow (thirty concurrent first opens); runs without -short")
	}
	url := mytest.URL(t)
	storetest.ConcurrentFirstOpen(t, 30, func(ctx context.Context) (herald.Store, error) {
		return mysql.Open(ctx, url)
	})
}
