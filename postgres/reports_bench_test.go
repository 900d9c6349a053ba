package postgres_test

import (
	"testing"

	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/storetest"
)

func BenchmarkApplyReports(b *testing.B) {
	s, err := postgres.Open(b.Context(), pgtest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchApplyReports(b, s)
}
