package config

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
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
	// timeout is the module's: how long a connect may take, unless the
	// context says less (its deadline, or WithProbeTimeout).
	timeout time.Duration
}

func newConnCap(max int, timeout time.Duration, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *connCap {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	return &connCap{max: int64(max), dialer: dial, timeout: timeout}
}

// dial connects within the probe's time and not past the probe's end,
// and counts the connections it makes while they are open. net/http dials
// with a context that keeps the request's values but not its cancellation
// (so that a connection a cancelled request started can serve the next
// one: golang/go#59017). A connect whose SYNs are dropped (a site behind a
// dead router) would then go on for the kernel's two minutes of SYN
// retries after its probe ended — given up at its deadline, or preempted
// after its controller's patience — holding a socket, a goroutine and
// their memory each, past every bound on probes: 1,500 dark controllers
// took a 128 MiB exporter to its OOM kill in 85 s. No dial outlives the
// probe that asked for it.
func (c *connCap) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	limit := c.timeout
	p, isProbe := probeOf(ctx)
	if isProbe {
		limit = p.timeout
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if isProbe {
		defer context.AfterFunc(p.ctx, cancel)()
	}
	if limit > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, limit)
		defer stop()
	}
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
