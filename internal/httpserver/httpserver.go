// Package httpserver runs an http.Server on one listener in the background
// with the timeouts every herald listener uses, and stops it gracefully.
package httpserver

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// Timeouts of every server: a client gets this long to send its headers,
// and an idle keep-alive connection is closed after IdleTimeout.
const (
	ReadHeaderTimeout = 10 * time.Second
	IdleTimeout       = 2 * time.Minute
)

// Server is an http.Server serving one listener from a goroutine of its own.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	errc chan error    // Serve's error, when it stops by itself
	done chan struct{} // closed when Serve has returned
	once sync.Once
	stop error
}

// Start listens on addr (host:port; port 0 picks a free one) and serves h.
func Start(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return Serve(ln, h), nil
}

// Serve serves h on ln, which the server then owns.
func Serve(ln net.Listener, h http.Handler) *Server {
	return ServeWith(ln, h, ReadHeaderTimeout)
}

// ServeWith is Serve with another limit on the time a client may take to
// send its headers (serve's --read-header-timeout).
func ServeWith(ln net.Listener, h http.Handler, readHeaderTimeout time.Duration) *Server {
	s := &Server{ln: ln, errc: make(chan error, 1), done: make(chan struct{}),
		srv: &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: IdleTimeout}}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.errc <- err
		}
	}()
	return s
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the server's base URL: http://Addr.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Err receives the error Serve stopped with, if it stopped by itself (the
// listener failed); never after Shutdown or Close.
func (s *Server) Err() <-chan error { return s.errc }

// Shutdown stops accepting connections and waits, until ctx ends, for the
// requests in flight to finish; it returns once Serve has returned. Only
// the first call to Shutdown or Close acts; later ones return its result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.once.Do(func() {
		s.stop = s.srv.Shutdown(ctx)
		<-s.done
	})
	return s.stop
}

// Close stops at once, cutting the requests in flight.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.stop = s.srv.Close()
		<-s.done
	})
	return s.stop
}
