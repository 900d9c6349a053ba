package mysql_test

import (
	"context"
	"database/sql"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/heraldhq/herald/internal/mytest"
	"github.com/heraldhq/herald/mysql"
	"github.com/heraldhq/herald/storetest"
)

type myTx struct{ tx *sql.Tx }

func (x myTx) Exec(ctx context.Context, q string) error {
	_, err := x.tx.ExecContext(ctx, q)
	return err
}

func (x myTx) Commit(context.Context) error { return x.tx.Commit() }

func TestCountersNeverWait(t *testing.T) {
	t.Parallel()
	url := mytest.URL(t)
	s, err := mysql.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	cfg, err := mysql.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Params["innodb_lock_wait_timeout"] = "1"
	cfg.Params["tx_isolation"] = "'READ-COMMITTED'"
	storetest.CountersNeverWait(t, s, func() storetest.Tx {
		conn, err := gomysql.NewConnector(cfg)
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(conn)
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { db.Close() })
		tx, err := db.BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return myTx{tx}
	})
}
