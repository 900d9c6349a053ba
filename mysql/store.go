// Package mysql is the herald.Store for MySQL 8 (≥ 8.0.1) and MariaDB
// (≥ 10.6) on InnoDB, with github.com/go-sql-driver/mysql. Claims use
// SELECT … FOR UPDATE SKIP LOCKED, so several herald processes can share
// one database, as with PostgreSQL.
//
// The database is named by a URL:
//
//	mysql://user:password@host:3306/herald
//
// The store forces what its correctness depends on, whatever the URL
// says: parseTime with times in UTC (DATETIME(6) columns, session
// time_zone '+00:00'), the utf8mb4 character set (Korean text and emoji
// round-trip; keys and ids compare byte for byte, utf8mb4_bin), a strict
// sql_mode (STRICT_ALL_TABLES, NO_ZERO_DATE, …: a value that does not fit
// is an error, never silently cut), READ COMMITTED transactions and no
// multi-statements. Other query parameters are passed to the driver
// (tls, timeout, readTimeout, writeTimeout, …).
package mysql

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/pressly/goose/v3"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlresults"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store implements herald.Store on MySQL or MariaDB.
type Store struct {
	db       *sql.DB
	instance string // InstanceID, read once at Open

	sqlresults.Reader // campaigns, messages and results
}

var _ herald.Store = (*Store)(nil)

// Open connects with a mysql:// URL and applies the embedded migrations.
// Several processes may open the same database at once: migrations run
// under a named lock (GET_LOCK).
func Open(ctx context.Context, rawURL string) (*Store, error) {
	cfg, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	version, err := migrate(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// READ COMMITTED for every transaction, set once per connection (a
	// SET TRANSACTION before each would cost a round trip): no gap locks,
	// so claims, upserts and INSERT … SELECT do not block each other on
	// ranges, and a locking read sees the latest commit. MariaDB before
	// 11.1 knows the variable only as tx_isolation.
	if strings.Contains(strings.ToLower(version), "mariadb") {
		cfg.Params["tx_isolation"] = "'READ-COMMITTED'"
	} else {
		cfg.Params["transaction_isolation"] = "'READ-COMMITTED'"
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect mysql: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	db.SetConnMaxLifetime(30 * time.Minute)
	s := &Store{db: db}
	s.Reader = s.resultsReader()
	if s.instance, err = s.instanceID(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// ParseURL turns a mysql:// URL into the driver's configuration, with the
// settings the store depends on forced. Its errors never repeat the URL
// (which holds the password).
func ParseURL(rawURL string) (*mysql.Config, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "mysql" || u.Host == "" {
		return nil, herald.Invalid("db", "bad MySQL URL: want mysql://user:password@host:3306/database")
	}
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net = "tcp"
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "3306"
	}
	cfg.Addr = net.JoinHostPort(host, port)
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if cfg.DBName == "" || strings.Contains(cfg.DBName, "/") {
		return nil, herald.Invalid("db", "bad MySQL URL: name the database, as in mysql://user:password@host:3306/herald")
	}
	// Pass the driver's own parameters through (tls, timeouts, …) by
	// letting it parse them, then force ours.
	q := u.Query()
	for k := range q {
		switch strings.ToLower(k) {
		case "parsetime", "loc", "charset", "collation", "multistatements", "interpolateparams", "sql_mode", "time_zone":
			q.Del(k)
		}
	}
	if len(q) > 0 {
		parsed, err := mysql.ParseDSN("/?" + q.Encode())
		if err != nil {
			return nil, herald.Invalid("db", "bad MySQL URL parameters: %v", err)
		}
		parsed.User, parsed.Passwd, parsed.Net, parsed.Addr, parsed.DBName = cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName
		cfg = parsed
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.MultiStatements = false
	// DATETIME(6) keeps microseconds: cut the rest here, as MariaDB
	// would, rather than let MySQL round a time into the next microsecond.
	if err := cfg.Apply(mysql.TimeTruncate(time.Microsecond), mysql.Charset("utf8mb4", "utf8mb4_unicode_ci")); err != nil {
		return nil, herald.Invalid("db", "MySQL settings: %v", err)
	}
	// One round trip per statement instead of prepare, execute, close; the
	// driver escapes for the connection's character set (utf8mb4).
	cfg.InterpolateParams = true
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	cfg.Params["sql_mode"] = "'STRICT_ALL_TABLES,STRICT_TRANS_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE," +
		"ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"
	return cfg, nil
}

// migrate applies the migrations under GET_LOCK, so that processes
// starting together on an empty database do not run them twice. The lock
// is held by a connection of a pool of its own, closed when migrate
// returns: should RELEASE_LOCK fail, closing the connection frees it.
//
// It returns the server's version (SELECT VERSION()).
func migrate(ctx context.Context, cfg *mysql.Config) (string, error) {
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return "", fmt.Errorf("migrate mysql: %w", err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	lockConn, err := db.Conn(ctx)
	if err != nil {
		return "", fmt.Errorf("migrate mysql: %w", err)
	}
	defer lockConn.Close()
	var version string
	if err := lockConn.QueryRowContext(ctx, `SELECT VERSION()`).Scan(&version); err != nil {
		return "", fmt.Errorf("migrate mysql: %w", err)
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "herald migrations\x00%s", cfg.DBName)
	name := fmt.Sprintf("herald-migrate-%016x", h.Sum64())
	var got sql.NullInt64
	if err := lockConn.QueryRowContext(ctx, `SELECT GET_LOCK(?, 300)`, name).Scan(&got); err != nil {
		return "", fmt.Errorf("migrate mysql: lock: %w", err)
	}
	if !got.Valid || got.Int64 != 1 {
		return "", fmt.Errorf("migrate mysql: another process held the migration lock for 5 minutes")
	}
	defer lockConn.ExecContext(context.WithoutCancel(ctx), `SELECT RELEASE_LOCK(?)`, name)
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return "", err
	}
	p, err := goose.NewProvider(goose.DialectMySQL, db, sub)
	if err != nil {
		return "", fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return "", fmt.Errorf("migrate mysql: %w", err)
	}
	return version, nil
}

// instanceID reads this database's instance id, making it at the first
// open: every opener inserts its own candidate, the first insert wins (the
// others are ignored as duplicates) and every one then reads the winner.
func (s *Store) instanceID(ctx context.Context) (string, error) {
	candidate := herald.NewInstanceID()
	if _, err := s.db.ExecContext(ctx, "INSERT IGNORE INTO meta (`key`, value) VALUES ('instance_id', ?)", candidate); err != nil {
		return "", translate(err, "instance id")
	}
	var id string
	err := s.db.QueryRowContext(ctx, "SELECT value FROM meta WHERE `key` = 'instance_id'").Scan(&id)
	return id, translate(err, "instance id")
}

// InstanceID is this database's random namespace of message ids and
// idempotency keys.
func (s *Store) InstanceID() string { return s.instance }

// Ping checks the connection.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close closes the pool.
func (s *Store) Close() error { return s.db.Close() }

// tx runs fn in one (READ COMMITTED) transaction, again (a few times, after
// a jittered pause) when InnoDB chose it as a deadlock victim or it timed
// out waiting for a lock: every fn here is safe to run again from the
// start, since the rolled-back attempt left nothing behind.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.retry(ctx, func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	})
}

// retry runs fn again on a deadlock (1213) or a lock wait timeout (1205).
func (s *Store) retry(ctx context.Context, fn func() error) error {
	const attempts = 5
	for attempt := 1; ; attempt++ {
		err := fn()
		if attempt == attempts || !retryable(err) || ctx.Err() != nil {
			return err
		}
		pause := time.Duration(attempt) * (5*time.Millisecond + mrand.N(20*time.Millisecond))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

func retryable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

func fromNull(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// translate turns driver errors into domain errors.
func translate(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, herald.ErrNotFound)
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1062:
			return fmt.Errorf("%s: already exists: %w", what, herald.ErrConflict)
		case 1452:
			return fmt.Errorf("%s: refers to something that does not exist: %w", what, herald.ErrConflict)
		case 1406:
			return herald.Invalid(what, "a value is too long: %s", me.Message)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// valuesTable is a derived table of the rows given, columns named cols:
// (SELECT ? AS a, ? AS b UNION ALL SELECT ?, ? …). The placeholders are
// bound (interpolated and escaped by the driver), never spliced.
func valuesTable(cols []string, rows int) string {
	var b strings.Builder
	b.WriteString("(")
	for i := range rows {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		b.WriteString("SELECT ")
		for j, c := range cols {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("?")
			if i == 0 {
				b.WriteString(" AS " + c)
			}
		}
	}
	b.WriteString(")")
	return b.String()
}

// resultsReader reads campaigns, messages and results with this store's
// scanners and counters.
func (s *Store) resultsReader() sqlresults.Reader {
	return sqlresults.Reader{DB: s.db, RecipientColumns: recipientColumns, ScanRecipient: scanRecipient,
		ReportColumns: reportColumns, ScanReport: scanReport(false), ScanReportRaw: scanReport(true),
		CampaignColumns: campaignColumns, ScanCampaign: scanCampaign, Counts: s.counts,
		MessageColumns: messageColumns, ScanMessage: scanMessage, Translate: translate}
}
