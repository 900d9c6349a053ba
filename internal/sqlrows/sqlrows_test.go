package sqlrows_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/heraldhq/herald/internal/sqlrows"
)

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE t (n INTEGER, s TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')`); err != nil {
		t.Fatal(err)
	}
	return db
}

type row struct {
	n int
	s string
}

func scanRow(r sqlrows.Scanner) (row, error) {
	var v row
	return v, r.Scan(&v.n, &v.s)
}

func TestCollect(t *testing.T) {
	db := openDB(t)
	got, err := sqlrows.Collect(t.Context(), db, scanRow, `SELECT n, s FROM t WHERE n >= ? ORDER BY n`, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != (row{2, "b"}) || got[1] != (row{3, "c"}) {
		t.Errorf("got %v, want rows 2 and 3 in order", got)
	}
	none, err := sqlrows.Collect(t.Context(), db, scanRow, `SELECT n, s FROM t WHERE n > 9`)
	if err != nil || none == nil || len(none) != 0 {
		t.Errorf("no row: %v, %v; want an empty non-nil slice", none, err)
	}
}

func TestOne(t *testing.T) {
	db := openDB(t)
	got, err := sqlrows.One(t.Context(), db, scanRow, `SELECT n, s FROM t WHERE n >= ? ORDER BY n`, 2)
	if err != nil || got != (row{2, "b"}) {
		t.Errorf("got %v, %v; want the first row, 2", got, err)
	}
	if _, err := sqlrows.One(t.Context(), db, scanRow, `SELECT n, s FROM t WHERE n > 9`); !errors.Is(err, sql.ErrNoRows) {
		t.Errorf("no row: %v, want sql.ErrNoRows", err)
	}
	if _, err := sqlrows.One(t.Context(), db, scanRow, `SELECT s, s FROM t`); err == nil || errors.Is(err, sql.ErrNoRows) {
		t.Errorf("a row that does not scan: %v, want its scan error", err)
	}
}

func TestCollectErrors(t *testing.T) {
	db := openDB(t)
	if _, err := sqlrows.Collect(t.Context(), db, scanRow, `SELECT nope FROM t`); err == nil {
		t.Error("a bad query gave no error")
	}
	// A row that does not scan (text into an int) stops the read.
	if got, err := sqlrows.Collect(t.Context(), db, scanRow, `SELECT s, s FROM t`); err == nil || got != nil {
		t.Errorf("a row that does not scan: %v, %v; want an error and no rows", got, err)
	}
}

func TestEachStopsAtTheFirstError(t *testing.T) {
	db := openDB(t)
	stop := errors.New("stop")
	seen := 0
	err := sqlrows.Each(t.Context(), db, func(r sqlrows.Scanner) error {
		seen++
		if seen == 2 {
			return stop
		}
		return nil
	}, `SELECT n FROM t ORDER BY n`)
	if !errors.Is(err, stop) || seen != 2 {
		t.Errorf("err %v after %d rows, want stop after 2", err, seen)
	}
	// Closed after the early stop: the database still takes a write.
	if _, err := db.Exec(`INSERT INTO t VALUES (4, 'd')`); err != nil {
		t.Errorf("write after an early stop: %v", err)
	}
}

func TestPlaceholders(t *testing.T) {
	for n, want := range map[int]string{0: "NULL", 1: "?", 3: "?, ?, ?"} {
		if got := sqlrows.Placeholders(n); got != want {
			t.Errorf("Placeholders(%d) = %q, want %q", n, got, want)
		}
	}
}
