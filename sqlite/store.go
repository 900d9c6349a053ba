// Package sqlite is the embedded herald.Store: a single file, WAL mode, one
// writer connection (SQLite has one writer anyway) and a pool of readers.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/filelock"
	"github.com/heraldhq/herald/internal/sqlresults"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store implements herald.Store on SQLite.
type Store struct {
	w *sql.DB // one connection: every write is serialised here, not by busy retries
	r *sql.DB // readers, which WAL lets run beside the writer

	path       string // the database file
	instanceID string // meta.instance_id, read once at Open

	stmts prepared // the writer's hot statements, parsed once

	sqlresults.Reader // campaigns, messages and results, on the readers
}

var _ herald.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path and applies the
// embedded migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, herald.Invalid("db", "sqlite path is empty")
	}
	w, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	s := &Store{w: w, r: r, path: path}
	s.Reader = s.resultsReader()
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if s.instanceID, err = s.loadInstanceID(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.stmts.prepare(ctx, s.w); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// loadInstanceID makes the database's instance id on first use and reads
// it: whichever of two concurrent first opens inserts first wins, and both
// read the winner's.
func (s *Store) loadInstanceID(ctx context.Context) (string, error) {
	if _, err := s.w.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('instance_id', ?)
		ON CONFLICT (key) DO NOTHING`, herald.NewInstanceID()); err != nil {
		return "", translate(err, "make instance id")
	}
	var id string
	if err := s.w.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'instance_id'`).Scan(&id); err != nil {
		return "", translate(err, "read instance id")
	}
	return id, nil
}

// InstanceID is this database's random namespace of message ids and keys.
func (s *Store) InstanceID() string { return s.instanceID }

func dsn(path string, writer bool) string {
	q := url.Values{}
	// synchronous FULL: a commit survives power loss, not only a crash of
	// herald. The batch keys written before each send depend on it; with
	// batched writes it costs one fsync per batch.
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	if writer {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// Migrate applies the embedded migrations; Open calls it.
func (s *Store) migrate(ctx context.Context) error {
	p, err := goose.NewProvider(goose.DialectSQLite3, s.w, mustSub(migrations, "migrations"))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	// Two processes opening a fresh file at once would both see a
	// migration missing, and the loser's transaction would fail on what
	// the winner just made: they take turns on a lock file beside it.
	lock, err := filelock.Lock(ctx, s.path+".migrate-lock")
	if err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	defer lock.Close()
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	return nil
}

// Ping checks that the file can be read.
func (s *Store) Ping(ctx context.Context) error {
	return s.r.PingContext(ctx)
}

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.stmts.close(), s.w.Close(), s.r.Close())
}

// prepared holds the writer's hot statements, parsed once: SQLite parses
// a statement in about the time it runs it, and the report path runs the
// same few all day. They are prepared at Open: preparing on the writer
// needs its one connection, which a transaction holds.
type prepared struct {
	insertReports [reportChunkSizes]*sql.Stmt // a chunk of 1 << i reports
	applyReport   *sql.Stmt
}

func (p *prepared) prepare(ctx context.Context, db *sql.DB) error {
	var err error
	for i := range p.insertReports {
		if p.insertReports[i], err = db.PrepareContext(ctx, insertReportsQuery(1<<i)); err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
	}
	if p.applyReport, err = db.PrepareContext(ctx, applyReport); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	return nil
}

func (p *prepared) close() error {
	var errs []error
	for _, st := range append(p.insertReports[:], p.applyReport) {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// tx runs fn in one write transaction.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// ms stores times as Unix milliseconds: sortable, compact, zone-free.
func ms(t time.Time) int64 { return t.UnixMilli() }

// nullMs stores the zero time as NULL.
func nullMs(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func fromMs(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64).UTC()
}

// translate turns driver errors into domain errors.
func translate(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, herald.ErrNotFound)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return fmt.Errorf("%s: already exists: %w", what, herald.ErrConflict)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%s: refers to something that does not exist: %w", what, herald.ErrConflict)
		}
	}
	if strings.Contains(err.Error(), "constraint failed") {
		return fmt.Errorf("%s: %v: %w", what, err, herald.ErrConflict)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// resultsReader reads campaigns, messages and results with this store's
// scanners and counters.
func (s *Store) resultsReader() sqlresults.Reader {
	return sqlresults.Reader{DB: s.r, RecipientColumns: recipientColumns, ScanRecipient: scanRecipient,
		ReportColumns: reportColumns, ScanReport: scanReport(false), ScanReportRaw: scanReport(true),
		CampaignColumns: campaignColumns, ScanCampaign: scanCampaign, Counts: s.counts,
		MessageColumns: messageColumns, ScanMessage: scanMessage, Translate: translate}
}
