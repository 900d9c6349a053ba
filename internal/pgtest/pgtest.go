// Package pgtest hands each test its own PostgreSQL schema, so database
// tests run in parallel against one real server.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/procstat"
)

// DefaultURL is the local test server (trust auth) used when
// HERALD_TEST_POSTGRES is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// URL creates a fresh schema and returns a connection URL whose search_path
// selects it. The schema is dropped when the test ends. Without a reachable
// server the test is skipped, except under CI=true, where it fails.
func URL(t testing.TB) string {
	t.Helper()
	base := serverURL()
	schema := create(t, base, "SCHEMA", " CASCADE")
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("HERALD_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// DefaultPoolerURL is PgBouncer in transaction mode in front of the test
// server, as .ci/run starts it, used when HERALD_TEST_PGBOUNCER is not set.
const DefaultPoolerURL = "postgres://postgres@127.0.0.1:6432/"

// PoolerURL creates a fresh database on the test server and returns two
// URLs to it: pooled, through the pooler, with pgx told not to prepare
// statements (what a pooler in transaction mode without prepared-statement
// support needs), and direct, to the server itself. A database, not a
// schema: such a pooler passes no search_path. It is dropped when the test
// ends (FORCE: the pooler keeps server connections to it open). Without a
// reachable server or pooler the test is skipped, except under CI=true.
func PoolerURL(t testing.TB) (pooled, direct string) {
	t.Helper()
	base := serverURL()
	name := create(t, base, "DATABASE", " WITH (FORCE)")
	pooler := os.Getenv("HERALD_TEST_PGBOUNCER")
	if pooler == "" {
		pooler = DefaultPoolerURL
	}
	d, err := url.Parse(base)
	if err != nil {
		t.Fatalf("HERALD_TEST_POSTGRES: %v", err)
	}
	d.Path = "/" + name
	u, err := url.Parse(pooler)
	if err != nil {
		t.Fatalf("HERALD_TEST_PGBOUNCER: %v", err)
	}
	u.Path = "/" + name
	q := u.Query()
	q.Set("default_query_exec_mode", "simple_protocol")
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	probe, err := pgx.Connect(ctx, u.String())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("connection pooler unreachable under CI=true: %v", err)
		}
		t.Skipf("connection pooler unreachable at %s (set CI=true to make this fail): %v", pooler, err)
	}
	probe.Close(ctx)
	return u.String(), d.String()
}

// serverURL is the test server: HERALD_TEST_POSTGRES or DefaultURL.
func serverURL() string {
	if u := os.Getenv("HERALD_TEST_POSTGRES"); u != "" {
		return u
	}
	return DefaultURL
}

// create makes a schema or a database (kind) of a fresh name on the server
// at base and drops it, with dropTail after its name, when the test ends.
func create(t testing.TB, base, kind, dropTail string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		unreachable(t, err)
	}
	defer conn.Close(context.Background())
	name := "t_" + randomHex(8)
	if _, err := conn.Exec(ctx, "CREATE "+kind+" "+name); err != nil {
		t.Fatalf("create %s: %v", strings.ToLower(kind), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop %s %s: %v", strings.ToLower(kind), name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP "+kind+" "+name+dropTail); err != nil {
			t.Errorf("drop %s %s: %v", strings.ToLower(kind), name, err)
		}
	})
	return name
}

func unreachable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("PostgreSQL unreachable under CI=true: %v", err)
	}
	t.Skipf("PostgreSQL unreachable (set CI=true to make this fail): %v", err)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Backends returns url with a fresh application_name, and a function
// reading the CPU time of the server processes serving connections opened
// with it, by pid (procstat.CPU; empty when the server is not on this
// machine), for benchmarks that report the server's CPU beside their own.
func Backends(t testing.TB, url string) (string, func() map[int]time.Duration) {
	t.Helper()
	name := "herald_bench_" + randomHex(6)
	url += "&application_name=" + name
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return url, func() map[int]time.Duration {
		rows, _ := conn.Query(context.Background(),
			`SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`, name)
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			t.Fatal(err)
		}
		out := map[int]time.Duration{}
		for _, pid := range pids {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
				out[int(pid)] = procstat.CPU(int(pid))
			}
		}
		return out
	}
}
