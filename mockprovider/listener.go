package mockprovider

import (
	"errors"
	"net"
	"sync"
)

// Listener is a net.Listener whose address can be shut and opened again,
// for the brown-out's refuse phase: while it is down nothing listens, so a
// client's connect fails with ECONNREFUSED, and every connection accepted
// through it has been closed. Serve an http.Server on it and hand it to
// Server.Attach.
type Listener struct {
	addr string // the resolved address, reused by Up

	mu     sync.Mutex
	ln     net.Listener  // nil while down
	up     chan struct{} // closed while up; Accept waits on it while down
	conns  map[*trackedConn]struct{}
	closed bool
	done   chan struct{} // closed by Close
}

// Listen listens on addr (TCP). A port 0 is resolved once: Up listens
// again on the same port.
func Listen(addr string) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	up := make(chan struct{})
	close(up)
	return &Listener{
		addr: ln.Addr().String(), ln: ln, up: up,
		conns: make(map[*trackedConn]struct{}), done: make(chan struct{}),
	}, nil
}

// Accept waits for a connection; while the listener is down it waits for Up.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		ln, up, closed := l.ln, l.up, l.closed
		l.mu.Unlock()
		if closed {
			return nil, net.ErrClosed
		}
		if ln == nil {
			select {
			case <-up:
			case <-l.done:
			}
			continue
		}
		c, err := ln.Accept()
		if err != nil {
			l.mu.Lock()
			replaced := l.ln != ln && !l.closed
			l.mu.Unlock()
			if replaced {
				continue // taken down (and maybe up again) meanwhile
			}
			return nil, err
		}
		if tc := l.track(ln, c); tc != nil {
			return tc, nil
		}
	}
}

// track registers c, unless the listener went down since it was accepted
// (then c is closed and nil returned).
func (l *Listener) track(from net.Listener, c net.Conn) *trackedConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != from || l.closed {
		c.Close()
		return nil
	}
	tc := &trackedConn{Conn: c, l: l}
	l.conns[tc] = struct{}{}
	return tc
}

// Down stops listening and closes every open connection; it returns how
// many were closed. Calling it while down does nothing.
func (l *Listener) Down() (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln == nil || l.closed {
		return 0, nil
	}
	err := l.ln.Close()
	l.ln = nil
	l.up = make(chan struct{})
	n := len(l.conns)
	for c := range l.conns {
		c.Conn.Close()
	}
	clear(l.conns)
	return n, err
}

// Up listens again on the same address. Calling it while up does nothing.
func (l *Listener) Up() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil || l.closed {
		return nil
	}
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return err
	}
	l.ln = ln
	close(l.up)
	return nil
}

// IsDown reports whether the address is shut.
func (l *Listener) IsDown() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ln == nil && !l.closed
}

// Close stops listening for good (open connections are left to their
// server, as with any listener).
func (l *Listener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	close(l.done)
	if l.ln == nil {
		return nil
	}
	err := l.ln.Close()
	l.ln = nil
	return err
}

// Addr is the listening address, the same while down.
func (l *Listener) Addr() net.Addr {
	a, err := net.ResolveTCPAddr("tcp", l.addr)
	if err != nil {
		return stringAddr(l.addr)
	}
	return a
}

type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }

// trackedConn forgets itself when closed.
type trackedConn struct {
	net.Conn
	l    *Listener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	err := c.Conn.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil // closed by Down already
	}
	return err
}
