package postgres_test

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/procstat"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/storetest"
)

// BenchmarkApplyReports also reports the server's CPU per report when
// PostgreSQL runs on this machine: the store gets one connection, whose
// backend process it finds by an application name of its own.
func BenchmarkApplyReports(b *testing.B) {
	url := pgtest.URL(b)
	name := "bench-apply-" + time.Now().Format("150405.000000")
	s, err := postgres.Open(b.Context(), url+"&pool_max_conns=1&application_name="+name)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchApplyReports(b, s, backendCPU(b, url, name))
}

// backendCPU reads the CPU time of the backend serving the connection
// named name; nil when the server is not on this machine.
func backendCPU(b *testing.B, url, name string) func() time.Duration {
	conn, err := pgx.Connect(b.Context(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(b.Context())
	if host := conn.Config().Host; host != "localhost" && !strings.HasPrefix(host, "/") &&
		!net.ParseIP(host).IsLoopback() {
		return nil
	}
	var pid int
	if err := conn.QueryRow(b.Context(), `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, name).Scan(&pid); err != nil {
		b.Fatalf("find the store's backend: %v", err)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
		return nil // in a container of its own, or no /proc
	}
	return func() time.Duration { return procstat.CPU(pid) }
}
