// Package postgres is the herald.Store for PostgreSQL (pgx). Claims use
// FOR UPDATE SKIP LOCKED so several herald processes can share one database.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	herald "github.com/heraldhq/herald"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store implements herald.Store on PostgreSQL.
type Store struct {
	pool     *pgxpool.Pool
	instance string // InstanceID, read once at Open
}

var _ herald.Store = (*Store)(nil)

// Open connects with a postgres:// URL (search_path may select a schema)
// and applies the embedded migrations. Several processes may open the same
// database (and schema) at once: migrations run under an advisory lock.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, herald.Invalid("db", "bad PostgreSQL URL: %v", redact(err))
	}
	if err := migrate(ctx, cfg.ConnConfig); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	s := &Store{pool: pool}
	if s.instance, err = s.instanceID(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// redact keeps a parse error from echoing a password in the URL.
func redact(err error) string {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return "cannot parse connection string"
	}
	return err.Error()
}

// migrate applies the migrations under an advisory lock, so that
// processes starting together on an empty database do not run them twice
// (which failed with 23505 on goose's version table and on the tables
// themselves).
//
// The lock is transaction-level, held by a transaction on a connection of
// its own while goose runs on others, all closed when it returns. Unlike a
// session lock it cannot outlive its holder (a crash ends the connection,
// the transaction and the lock, and no pooled connection keeps it), and it
// holds through a connection pooler in transaction mode, which gives a
// transaction one server connection from BEGIN to COMMIT and a session
// none.
func migrate(ctx context.Context, cc *pgx.ConnConfig) error {
	holder, err := pgx.ConnectConfig(ctx, cc.Copy())
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	defer holder.Close(context.Background())
	tx, err := holder.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // the lock goes with the transaction either way
	id, err := migrationLockID(ctx, tx)
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	wait, cancel := context.WithTimeout(ctx, migrationLockWait)
	defer cancel()
	if _, err := tx.Exec(wait, `SELECT pg_advisory_xact_lock($1)`, id); err != nil {
		return fmt.Errorf("migrate postgres: wait for the migration lock (another process migrating?): %w", err)
	}
	db := stdlib.OpenDB(*cc.Copy())
	defer db.Close()
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	return nil
}

// migrationLockWait bounds the wait for another process's migrations.
const migrationLockWait = 5 * time.Minute

// migrationLockID names the advisory lock of the migrations of one schema.
// Advisory locks are per database, not per schema: with one id, stores of
// different schemas of one database (one per test, or one per environment)
// would wait for each other's migrations. The schema is the first existing
// one of the search_path, where goose and the migrations create their
// tables.
func migrationLockID(ctx context.Context, tx pgx.Tx) (int64, error) {
	var database, schema string
	err := tx.QueryRow(ctx, `SELECT current_database(), COALESCE(current_schema(), '')`).Scan(&database, &schema)
	if err != nil {
		return 0, fmt.Errorf("read schema: %w", err)
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "herald migrations\x00%s\x00%s", database, schema)
	return int64(h.Sum64()), nil
}

// instanceID reads this database's instance id, making it at the first
// open. Concurrent first opens agree: every one inserts its own candidate,
// the first insert wins (the others wait for it and do nothing) and every
// one then reads the winner.
func (s *Store) instanceID(ctx context.Context) (string, error) {
	candidate := herald.NewInstanceID()
	if _, err := s.pool.Exec(ctx, `INSERT INTO meta (key, value) VALUES ('instance_id', $1)
		ON CONFLICT (key) DO NOTHING`, candidate); err != nil {
		return "", translate(err, "instance id")
	}
	var id string
	err := s.pool.QueryRow(ctx, `SELECT value FROM meta WHERE key = 'instance_id'`).Scan(&id)
	return id, translate(err, "instance id")
}

// InstanceID is this database's random namespace of message ids and
// idempotency keys.
func (s *Store) InstanceID() string { return s.instance }

// Ping checks the connection.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// tx runs fn in one transaction.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// translate turns driver errors into domain errors.
func translate(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, herald.ErrNotFound)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return fmt.Errorf("%s: already exists: %w", what, herald.ErrConflict)
		case "23503":
			return fmt.Errorf("%s: refers to something that does not exist: %w", what, herald.ErrConflict)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}
