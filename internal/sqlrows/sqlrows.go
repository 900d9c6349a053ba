// Package sqlrows reads query results for the stores built on database/sql
// (SQLite and MySQL/MariaDB): the loop over the rows, their closing and
// their final error are written once here; how a row becomes a value stays
// with each store, whose time columns differ.
package sqlrows

import (
	"context"
	"database/sql"
	"strings"
)

// Querier is a *sql.DB, *sql.Conn or *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Scanner is one row: *sql.Row or *sql.Rows.
type Scanner interface {
	Scan(dest ...any) error
}

// Collect runs query and makes a T of every row with scan, in order (All).
func Collect[T any](ctx context.Context, db Querier, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return All(rows, scan)
}

// One runs query and makes a T of its first row with scan, reading no
// further; no row is sql.ErrNoRows, as from QueryRow, for the store's error
// translation.
func One[T any](ctx context.Context, db Querier, scan func(Scanner) (T, error), query string, args ...any) (T, error) {
	var v T
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return v, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return v, err
		}
		return v, sql.ErrNoRows
	}
	return scan(rows)
}

// All makes a T of every row with scan, in order, and closes rows. No row
// gives an empty slice, not nil (the API answers [] rather than null).
func All[T any](rows *sql.Rows, scan func(Scanner) (T, error)) ([]T, error) {
	out := []T{}
	err := each(rows, func(row Scanner) error {
		v, err := scan(row)
		if err == nil {
			out = append(out, v)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Each runs query and calls fn with every row, stopping at the first error.
func Each(ctx context.Context, db Querier, fn func(Scanner) error, query string, args ...any) error {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	return each(rows, fn)
}

// each is the one loop over rows: fn with every row, then the rows' own
// error; rows are closed however it ends.
func each(rows *sql.Rows, fn func(Scanner) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Placeholders is "?, ?, …" for n values; NULL for none, which an IN list
// matches with nothing.
func Placeholders(n int) string {
	if n == 0 {
		return "NULL"
	}
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
