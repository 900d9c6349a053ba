package postgres_test

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/procstat"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/storetest"
)

// BenchmarkApplyReports also reports the server's CPU per report when
// PostgreSQL runs on this machine (pgtest.Backends).
func BenchmarkApplyReports(b *testing.B) {
	url, backends := pgtest.Backends(b, pgtest.URL(b))
	s, err := postgres.Open(b.Context(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var serverCPU func() time.Duration
	if start := backends(); len(start) > 0 { // else a server elsewhere
		serverCPU = func() time.Duration { return procstat.CPUSince(start, backends()) }
	}
	storetest.BenchApplyReports(b, s, serverCPU)
}
