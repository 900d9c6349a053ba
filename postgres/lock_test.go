package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3/lock"

	"github.com/heraldhq/herald/internal/pgtest"
)

// TestMigrationLockPerSchema checks that migrations wait for the lock of
// their own schema only: a held lock of schema a blocks Open on a, and
// neither it nor goose's database-wide default id blocks Open on b.
func TestMigrationLockPerSchema(t *testing.T) {
	if testing.Short() {
		t.Skip("slow (waits on a held migration lock, ~4 s); runs without -short")
	}
	t.Parallel()
	a, b := pgtest.URL(t), pgtest.URL(t)
	ctx := t.Context()

	holder, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, err := migrationLockID(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if id == lock.DefaultLockID {
		t.Fatal("migration lock id is goose's default")
	}
	for _, k := range []int64{id, lock.DefaultLockID} {
		if _, err := holder.Exec(ctx, `SELECT pg_advisory_lock($1)`, k); err != nil {
			t.Fatal(err)
		}
	}

	// Another schema migrates at once.
	start := time.Now()
	s, err := Open(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("open of another schema took %v behind a held lock", d)
	}

	// Its own schema waits for the lock.
	short, cancel := context.WithTimeout(ctx, 2500*time.Millisecond)
	defer cancel()
	if s, err := Open(short, a); err == nil {
		s.Close()
		t.Fatal("open migrated while another session held the migration lock")
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Logf("blocked open: %v", err)
	}

	// Released, it migrates.
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_unlock_all()`); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM meta`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("meta rows = %d (%v), want 1", n, err)
	}
}
