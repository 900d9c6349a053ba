package sqlite_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlite"
)

// BenchmarkPrepareRecipients prepares a campaign of 100,000 members with
// the counter triggers (migration 5) and, for comparison in the same run,
// with the insert trigger dropped:
//
//	go test -run '^$' -bench PrepareRecipients -benchtime 3x ./sqlite
func BenchmarkPrepareRecipients(b *testing.B) {
	for _, tc := range []struct {
		name    string
		trigger bool
	}{{"counter-trigger", true}, {"no-trigger", false}} {
		b.Run(tc.name, func(b *testing.B) {
			const n = 100_000
			path := filepath.Join(b.TempDir(), "h.db")
			s, err := sqlite.Open(b.Context(), path)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
			ms := make([]herald.Member, n)
			for i := range ms {
				ms[i] = herald.Member{ID: fmt.Sprintf("m%08d", i), Phone: fmt.Sprintf("010%08d", i), Status: herald.MemberActive, UpdatedAt: at}
			}
			if _, err := s.UpsertMembers(b.Context(), ms); err != nil {
				b.Fatal(err)
			}
			if _, err := s.CreateTemplate(b.Context(), herald.Template{Code: "T", SenderKey: "k", Text: "hi", Status: herald.TemplateApproved, CreatedAt: at}); err != nil {
				b.Fatal(err)
			}
			if !tc.trigger {
				db, err := sql.Open("sqlite", path)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := db.Exec(`DROP TRIGGER recipient_counts_insert`); err != nil {
					b.Fatal(err)
				}
				db.Close()
			}
			b.ResetTimer()
			for range b.N {
				c, err := s.CreateCampaign(b.Context(), herald.Campaign{Name: "p", TemplateCode: "T", Audience: herald.Audience{All: true},
					TPS: 1, StartAt: at, State: herald.CampaignScheduled, CreatedAt: at})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.AcquireCampaignLease(b.Context(), "o", at.Add(time.Hour), time.Minute); err != nil {
					b.Fatal(err)
				}
				if got, err := s.PrepareRecipients(b.Context(), c.ID, "o", at); err != nil || got != n {
					b.Fatalf("prepared %d, %v", got, err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "recipients/s")
		})
	}
}
