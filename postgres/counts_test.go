package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/storetest"
)

type pgTx struct{ tx pgx.Tx }

func (x pgTx) Exec(ctx context.Context, sql string) error {
	_, err := x.tx.Exec(ctx, sql)
	return err
}

func (x pgTx) Commit(ctx context.Context) error { return x.tx.Commit(ctx) }

func TestCountersNeverWait(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	storetest.CountersNeverWait(t, s, func() storetest.Tx {
		conn, err := pgx.Connect(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		if _, err := conn.Exec(t.Context(), `SET lock_timeout = '1s'`); err != nil {
			t.Fatal(err)
		}
		tx, err := conn.Begin(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return pgTx{tx}
	})
}
