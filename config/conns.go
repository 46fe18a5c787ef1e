package config

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxConnections caps the connections a module keeps to controllers.
const DefaultMaxConnections = 512

// connCap bounds the connections one module's HTTP client holds open. The
// client keeps a connection per controller for reuse; with thousands of
// controllers scraped every few seconds that would be thousands of idle
// sockets (about 20 KiB each). Past the cap, idle connections are dropped,
// at most once a second: a small fleet keeps every connection, a large one
// stays bounded and reconnects, which on a LAN costs well under a millisecond.
type connCap struct {
	max        int64
	open       atomic.Int64
	closeIdle  func() // the client's CloseIdleConnections, set after it exists
	mu         sync.Mutex
	lastFlush  time.Time
	dialer     func(ctx context.Context, network, addr string) (net.Conn, error)
	flushCount atomic.Int64
}

func newConnCap(max int, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *connCap {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	return &connCap{max: int64(max), dialer: dial}
}

func (c *connCap) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := c.dialer(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if n := c.open.Add(1); c.max > 0 && n > c.max {
		c.flush()
	}
	return &countedConn{Conn: conn, c: c}, nil
}

func (c *connCap) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.lastFlush) < time.Second || c.closeIdle == nil {
		return
	}
	c.lastFlush = time.Now()
	c.flushCount.Add(1)
	go c.closeIdle() // not under the transport's locks of the dialing request
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
