package storetest

import (
	"fmt"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/procstat"
)

// BenchApplyReports measures ApplyReports with batches of unmatched seed
// reports (the webhook benchmark's load), per report:
//
//	go test -run '^$' -bench ApplyReports ./sqlite ./postgres ./mysql
//
// serverCPU, when not nil, reads the CPU time the database server has spent
// on the store's connection; it is reported per report as server-cpu-ns.
func BenchApplyReports(b *testing.B, store herald.Store, serverCPU func() time.Duration) {
	for _, size := range []int{1, 37, 100, 500} {
		b.Run(fmt.Sprint("batch=", size), func(b *testing.B) {
			at := time.Date(2026, 11, 25, 10, 30, 2, 0, time.UTC)
			batch := make([]herald.Report, size)
			n := 0
			cpu0 := procstat.SelfCPU()
			var server0 time.Duration
			if serverCPU != nil {
				server0 = serverCPU()
			}
			for b.Loop() {
				for i := range batch {
					id := fmt.Sprintf("bench-%d-%d", size, n)
					n++
					batch[i] = herald.Report{MsgKey: id, Ref: id, Code: "SUC", ReportTime: at,
						Raw: []byte(`{"messageId":"` + id + `","resultCode":"SUC","errorText":"","reportTime":"2026-11-25 10:30:02","brandtalkType":"","ref":""}`)}
				}
				if _, err := store.ApplyReports(b.Context(), batch, at); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/report")
			// CPU of this process (for SQLite, the whole store): steadier
			// than wall time on a shared machine.
			b.ReportMetric(float64((procstat.SelfCPU()-cpu0).Nanoseconds())/float64(n), "cpu-ns/report")
			if serverCPU != nil {
				b.ReportMetric(float64((serverCPU()-server0).Nanoseconds())/float64(n), "server-cpu-ns/report")
			}
		})
	}
}

// BenchMatchPending measures one sweep of MatchPendingReports over limit
// due reports that match nothing (the webhook's bench ids, or reports of
// another sender on the same account): what each second's sweep costs
// the database while such reports keep coming.
func BenchMatchPending(b *testing.B, store herald.Store, limit int) {
	at := time.Date(2026, 11, 25, 10, 30, 2, 0, time.UTC)
	total := b.N * limit
	batch := make([]herald.Report, 0, 500)
	for n := 0; n < total; n++ {
		id := fmt.Sprintf("sweep-%d-%d", limit, n)
		batch = append(batch, herald.Report{MsgKey: id, Ref: id, Code: "SUC", ReportTime: at, Raw: []byte(`{}`)})
		if len(batch) == cap(batch) || n == total-1 {
			if _, err := store.ApplyReports(b.Context(), batch, at); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.ResetTimer()
	for i := range b.N {
		// Later each time: every sweep finds limit reports still due.
		if _, err := store.MatchPendingReports(b.Context(), at.Add(time.Hour+time.Duration(i)*time.Millisecond), limit); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(total), "ns/report")
}
