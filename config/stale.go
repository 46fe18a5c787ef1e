package config

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"
)

// staleGuard retries a GET once, on another connection, when a connection
// kept from an earlier probe gives no answer header within half of the
// probe's timeout.
//
// A connection kept between two scrapes can die without a word: a carrier
// NAT or firewall forgets its mapping, an LTE router re-attaches, a VPN
// tunnel is rebuilt. No FIN or RST reaches the exporter, so net/http's
// Transport reuses the connection, writes the request into the kernel's
// buffer and waits for an answer that never comes, until the probe's
// deadline: a lost scrape. (Transport retries by itself only when the dead
// connection says so: EOF or a reset while it waits for the first byte.)
// TCP keep-alive probes do not help here: the default ones (15 s idle, then
// every 15 s, 9 unanswered) find a dead peer after 2.5 minutes, longer
// than most scrape intervals. Half of the timeout is far longer than a
// controller takes to start answering (milliseconds on a LAN, an LTE round
// trip or two), and leaves the other half for a new connection.
type staleGuard struct {
	next http.RoundTripper
	// timeout is the module's: how long the probe waits, unless the
	// request's context says (WithProbeTimeout).
	timeout time.Duration
}

type probeKey struct{}

// probeInfo is what WithProbeTimeout puts into a request's context.
type probeInfo struct {
	timeout time.Duration
	// ctx ends when the probe ends (it gave up, was preempted, or every
	// probe sharing the request did).
	ctx context.Context
}

// WithProbeTimeout tells the module's client how long the probe that
// makes requests with ctx waits for them, and that a connect for them ends
// when ctx does. A probe's request may outlive its first caller (probes of
// one controller share it), so it carries no deadline of its own to take
// this from; and net/http dials with a context that keeps the request's
// values but not its cancellation (see connCap.dial).
func WithProbeTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, probeKey{}, probeInfo{timeout: d, ctx: ctx})
}

// probeOf is what WithProbeTimeout said, if it did.
func probeOf(ctx context.Context) (probeInfo, bool) {
	p, ok := ctx.Value(probeKey{}).(probeInfo)
	return p, ok
}

// errStale ends an attempt on a reused connection that gave no answer.
var errStale = errors.New("no answer on a reused connection")

func (g *staleGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.Body != nil && req.Body != http.NoBody {
		return g.next.RoundTrip(req) // retry only what is safe to send twice
	}
	wait := g.timeout
	if p, ok := probeOf(req.Context()); ok {
		wait = p.timeout
	}
	wait /= 2
	ctx, cancel := context.WithCancelCause(req.Context())
	var (
		mu    sync.Mutex
		timer *time.Timer
	)
	stop := func() {
		mu.Lock()
		defer mu.Unlock()
		if timer != nil {
			timer.Stop()
		}
	}
	trace := &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			// Called again when the transport retries by itself, on
			// another connection: the wait is that connection's.
			mu.Lock()
			defer mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			if info.Reused {
				timer = time.AfterFunc(wait, func() { cancel(errStale) })
			}
		},
		GotFirstResponseByte: stop,
	}
	resp, err := g.next.RoundTrip(req.WithContext(httptrace.WithClientTrace(ctx, trace)))
	stop()
	if err == nil {
		// The body is read with ctx: cancel it when the body is closed.
		resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
		return resp, nil
	}
	cancel(nil)
	if !errors.Is(context.Cause(ctx), errStale) || req.Context().Err() != nil {
		return nil, err
	}
	// The dead connection is closed (its request was cancelled); the
	// transport dials a new one unless another is idle. (Over HTTP/2 a
	// cancelled request leaves its connection open: there the transport's
	// ping, after a minute without frames, finds it dead.)
	return g.next.RoundTrip(req)
}

// CloseIdleConnections passes http.Client.CloseIdleConnections on.
func (g *staleGuard) CloseIdleConnections() {
	if ci, ok := g.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}
