package filelock

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestLockTakesTurns: a held lock refuses TryLock and makes Lock wait
// until it is released or its context ends. (flock locks belong to the
// open file, so two opens in one process contend like two processes.)
func TestLockTakesTurns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "LOCK")
	held, err := TryLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TryLock(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second TryLock: %v, want ErrLocked", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := Lock(ctx, path); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while held: %v, want the context's end", err)
	}
	got := make(chan error, 1)
	go func() {
		f, err := Lock(t.Context(), path)
		if err == nil {
			f.Close()
		}
		got <- err
	}()
	held.Close()
	if err := <-got; err != nil {
		t.Fatalf("Lock after the release: %v", err)
	}
}
