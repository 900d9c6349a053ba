package mysql_test

import (
	"testing"

	"github.com/heraldhq/herald/internal/mytest"
	"github.com/heraldhq/herald/mysql"
	"github.com/heraldhq/herald/storetest"
)

func BenchmarkApplyReports(b *testing.B) {
	s, err := mysql.Open(b.Context(), mytest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchApplyReports(b, s, nil)
}
