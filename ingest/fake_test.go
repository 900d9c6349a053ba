package ingest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingest"
	"github.com/heraldhq/herald/internal/reporttest"
)

// batchStore is an ingest.ReportStore that records the size of every batch
// it is given, holding the first until release is closed.
type batchStore struct {
	release chan struct{}
	entered chan struct{}
	mu      sync.Mutex
	sizes   []int
	nows    []time.Time
}

func (b *batchStore) ApplyReports(_ context.Context, rs []herald.Report, now time.Time) (herald.ReportResult, error) {
	b.mu.Lock()
	first := len(b.sizes) == 0
	b.sizes = append(b.sizes, len(rs))
	b.nows = append(b.nows, now)
	b.mu.Unlock()
	if first {
		close(b.entered)
		<-b.release
	}
	return herald.ReportResult{Matched: len(rs)}, nil
}

func (b *batchStore) MatchPendingReports(context.Context, time.Time, int) (int, error) { return 0, nil }

// TestGroupCommit: reports that arrive while a commit is under way are
// written together, in one call of the store, at the configured clock.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	s := &batchStore{release: make(chan struct{}), entered: make(chan struct{})}
	in, _ := startIngest(t, s, ingest.Config{Committers: 1})
	first := submitAsync(in, rep("G0"))
	waitFor(t, s.entered, "the first commit")
	var rest []<-chan error
	for i := range 5 {
		rest = append(rest, submitAsync(in, rep(fmt.Sprint("G", i+1))))
	}
	eventually(t, "five reports queued", func() bool { return in.QueueDepth() == 5 })
	close(s.release)
	for _, c := range append(rest, first) {
		if err := waitFor(t, c, "an answer"); err != nil {
			t.Fatal(err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sizes) != 2 || s.sizes[0] != 1 || s.sizes[1] != 5 {
		t.Fatalf("batches of %v, want [1 5]: the five waiting reports in one write", s.sizes)
	}
	for _, now := range s.nows {
		if !now.Equal(reporttest.Epoch) {
			t.Fatalf("store given now = %v, want the configured clock %v", now, reporttest.Epoch)
		}
	}
}

// TestBatchTakesHalfOfTheWaiting: once a commit ends with many callers
// waiting, the next batches take at most half of them (never fewer than
// 16), so that the other half is read while a batch commits; BatchSize
// still bounds a batch.
func TestBatchTakesHalfOfTheWaiting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		queued, batchSize int
		want              []int
	}{
		{queued: 200, batchSize: 500, want: []int{1, 100, 100}}, // 201 waiting: 100 at a time
		{queued: 20, batchSize: 500, want: []int{1, 16, 4}},     // 21 waiting: the floor
		{queued: 200, batchSize: 60, want: []int{1, 60, 60, 60, 20}},
	} {
		t.Run(fmt.Sprint(tc.queued, "/", tc.batchSize), func(t *testing.T) {
			t.Parallel()
			s := &batchStore{release: make(chan struct{}), entered: make(chan struct{})}
			in, _ := startIngest(t, s, ingest.Config{Committers: 1, BatchSize: tc.batchSize, QueueSize: 1000})
			answers := []<-chan error{submitAsync(in, rep("H0"))}
			waitFor(t, s.entered, "the first commit")
			for i := range tc.queued {
				answers = append(answers, submitAsync(in, rep(fmt.Sprint("H", i+1))))
			}
			eventually(t, "reports queued", func() bool { return in.QueueDepth() == tc.queued })
			close(s.release)
			for _, c := range answers {
				if err := waitFor(t, c, "an answer"); err != nil {
					t.Fatal(err)
				}
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if fmt.Sprint(s.sizes) != fmt.Sprint(tc.want) {
				t.Fatalf("batches of %v, want %v", s.sizes, tc.want)
			}
		})
	}
}
