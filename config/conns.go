package config

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// DefaultMaxConnections caps the connections a module keeps to controllers.
const DefaultMaxConnections = 512

// connCap bounds the connections one module's HTTP client holds open. The
// client keeps a connection per controller for reuse; with thousands of
// controllers that would be thousands of sockets (about 20 KiB each). While
// the module is at its cap, requests ask for their connection to be closed
// after use instead of kept: a small fleet keeps every connection, a large
// one stays bounded and reconnects, which on a LAN costs well under a
// millisecond.
type connCap struct {
	max    int64
	open   atomic.Int64
	dialer func(ctx context.Context, network, addr string) (net.Conn, error)
}

func newConnCap(max int, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *connCap {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	return &connCap{max: int64(max), dialer: dial}
}

// dial counts the connections it makes while they are open.
func (c *connCap) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := c.dialer(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c.open.Add(1)
	return &countedConn{Conn: conn, c: c}, nil
}

// roundTripper marks requests "Connection: close" while the cap is reached.
func (c *connCap) roundTripper(next http.RoundTripper) http.RoundTripper {
	return &capRoundTripper{c: c, next: next}
}

type capRoundTripper struct {
	c    *connCap
	next http.RoundTripper
}

func (t *capRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.c.max > 0 && t.c.open.Load() >= t.c.max {
		req = req.Clone(req.Context())
		req.Close = true
	}
	return t.next.RoundTrip(req)
}

// CloseIdleConnections passes http.Client.CloseIdleConnections on to the
// transport: without it the client cannot close what a reload left idle.
func (t *capRoundTripper) CloseIdleConnections() {
	if ci, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// countedConn tells its connCap when it closes.
type countedConn struct {
	net.Conn
	c    *connCap
	once sync.Once
}

func (cc *countedConn) Close() error {
	cc.once.Do(func() { cc.c.open.Add(-1) })
	return cc.Conn.Close()
}
