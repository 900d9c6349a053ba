// Package mytest hands each test its own MySQL/MariaDB database, so
// database tests run in parallel against one real server.
package mytest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// DefaultURL is the local test server (root, no password) used when
// HERALD_TEST_MYSQL is not set.
const DefaultURL = "mysql://root@127.0.0.1:3306/"

// URL creates a fresh database (t_<random>) and returns a mysql:// URL
// naming it. The database is dropped when the test ends. Without a
// reachable server the test is skipped, except under CI=true, where it
// fails.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("HERALD_TEST_MYSQL")
	if base == "" {
		base = DefaultURL
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal("HERALD_TEST_MYSQL is not a URL")
	}
	db, err := open(u)
	if err != nil {
		t.Fatalf("HERALD_TEST_MYSQL: %v", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		unreachable(t, err)
	}
	name := "t_" + randomHex(8)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		db, err := open(u)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	v := *u
	v.Path = "/" + name
	return v.String()
}

// open connects to the server of u, without a database.
func open(u *url.URL) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	if u.Port() == "" {
		cfg.Addr += ":3306"
	}
	cfg.Timeout = 5 * time.Second
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

func unreachable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("MySQL/MariaDB unreachable under CI=true: %v", err)
	}
	t.Skipf("MySQL/MariaDB unreachable (set CI=true to make this fail): %v", err)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
