package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

// Tx is one transaction on a connection of its own, on which a statement
// that waits for a lock fails within about a second (PostgreSQL
// lock_timeout, InnoDB innodb_lock_wait_timeout).
type Tx interface {
	Exec(ctx context.Context, sql string) error
	Commit(ctx context.Context) error
}

// CountersNeverWait proves that the counters the store's triggers keep
// are no hot row: two open transactions move rows of one campaign between
// the same states in opposite orders (counters shared by both would make
// the second wait for the first, and then deadlock), while a reader folds
// the campaign's committed counter rows; no statement may wait. Then the
// counters must equal a count of every row. begin opens a Tx.
func CountersNeverWait(t *testing.T, s herald.Store, begin func() Tx) {
	ctx := t.Context()
	c := running(t, s, 6)
	var ids []int64
	for _, r := range must(s.ListRecipients(ctx, c.ID, 0, 10))(t) {
		ids = append(ids, r.ID)
	}
	set := func(tx Tx, i int, state herald.RecipientState) {
		t.Helper()
		if err := tx.Exec(ctx, fmt.Sprintf(`UPDATE recipients SET state = '%s' WHERE id = %d`, state, ids[i])); err != nil {
			t.Fatalf("move row %d to %s: %v", i, state, err)
		}
	}
	// Enough committed counter rows for a reader to fold them.
	for range 40 {
		for _, st := range []herald.RecipientState{herald.RecipientFailed, herald.RecipientPending} {
			tx := begin()
			set(tx, 5, st)
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	a, b := begin(), begin()
	set(a, 0, herald.RecipientFailed)
	set(b, 1, herald.RecipientDelivered)
	set(a, 2, herald.RecipientDelivered)
	set(b, 3, herald.RecipientFailed)
	set(a, 4, herald.RecipientSending)
	set(b, 5, herald.RecipientSending)
	read, cancel := context.WithTimeout(ctx, 5*time.Second)
	got, err := s.GetCampaign(read, c.ID) // folds while both hold theirs
	cancel()
	if err != nil {
		t.Fatalf("read while two transactions are open: %v", err)
	}
	checkCounts(t, got, map[herald.RecipientState]int{herald.RecipientPending: 6})
	for _, tx := range []Tx{a, b} {
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	wantCountsMatch(t, s, c)
	checkCounts(t, must(s.GetCampaign(ctx, c.ID))(t), map[herald.RecipientState]int{
		herald.RecipientFailed: 2, herald.RecipientDelivered: 2, herald.RecipientSending: 2})
}
