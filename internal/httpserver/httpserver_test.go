package httpserver

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"
)

func TestShutdownWaitsForTheRequestInFlight(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	s, err := Start("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "done")
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(s.URL())
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- s.Shutdown(context.Background()) }()
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if b := <-got; b != "done" {
		t.Fatalf("the request in flight got %q", b)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("a second Shutdown: %v", err)
	}
	if _, err := http.Get(s.URL()); err == nil {
		t.Fatal("a request after Shutdown was answered")
	}
	select {
	case err := <-s.Err():
		t.Fatalf("Err after Shutdown: %v", err)
	default:
	}
}

func TestErrReportsAFailedListener(t *testing.T) {
	t.Parallel()
	s, err := Start("127.0.0.1:0", http.NotFoundHandler())
	if err != nil {
		t.Fatal(err)
	}
	s.ln.Close() // the listener fails under the server
	select {
	case err := <-s.Err():
		if err == nil || errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("Err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no error after the listener closed")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

func TestStartRefusesABadAddress(t *testing.T) {
	t.Parallel()
	if _, err := Start("127.0.0.1:-1", http.NotFoundHandler()); err == nil {
		t.Fatal("a negative port was accepted")
	}
}
