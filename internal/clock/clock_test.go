package clock

import (
	"context"
	"testing"
	"time"
)

func TestSleepEndsWithTheContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool, 1)
	go func() { done <- Sleep(ctx, time.Hour) }()
	cancel()
	select {
	case full := <-done:
		if full {
			t.Fatal("Sleep reported the whole hour after the context ended")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Sleep did not end with its context")
	}
}

func TestSleepWaits(t *testing.T) {
	t.Parallel()
	if !Sleep(context.Background(), time.Millisecond) {
		t.Fatal("a live context cut a 1 ms sleep short")
	}
	if !Sleep(context.Background(), 0) {
		t.Fatal("a zero sleep on a live context reported false")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, 0) || Sleep(ctx, time.Hour) {
		t.Fatal("a sleep on an ended context reported true")
	}
}
