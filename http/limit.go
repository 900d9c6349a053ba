package http

import (
	"io"
	"net"
	"sync"
	"time"
)

// DefaultMaxConnections bounds the connections a server keeps open: each
// costs a goroutine and its buffers (tens of KB), whatever it sends.
const DefaultMaxConnections = 4096

// LimitListener wraps ln so that at most max connections are open at once.
// Unlike golang.org/x/net/netutil's, which stops accepting (and leaves new
// clients hanging in the kernel's queue), a connection past the limit is
// accepted, answered 503 with Retry-After and closed at once: a client
// learns to come back, and connections that hold their slot idle (slow
// clients, or a slow-loris) cannot queue honest ones behind them.
func LimitListener(ln net.Listener, max int) net.Listener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, max)}
}

type limitListener struct {
	net.Listener
	slots chan struct{}
}

// overLimit is the whole answer to a connection past the limit.
var overLimit = []byte("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n" +
	"Content-Type: application/json; charset=utf-8\r\nContent-Length: 91\r\n\r\n" +
	`{"error":{"code":"unavailable","message":"too many connections; retry after Retry-After"}}` + "\n")

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
		default:
			go refuseConn(c)
		}
	}
}

// refuseConn answers 503 without reading the request, within a second.
func refuseConn(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(time.Second))
	_, _ = c.Write(overLimit)
	if tc, ok := c.(*net.TCPConn); ok {
		// Half-close and drain, so that the close does not reset the
		// connection (and the answer with it) over unread request bytes.
		_ = tc.CloseWrite()
		_, _ = io.Copy(io.Discard, io.LimitReader(tc, 64<<10))
	}
	c.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
