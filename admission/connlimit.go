// Package admission decides which /probe requests the exporter serves,
// and how: the bound on connections to its HTTP server (ConnLimit), the
// memory it may use and the bounds sized from it (MemoryBudget), and the
// per-target state that keeps controllers which do not answer from taking
// the room of those that do.
package admission

import (
	"container/list"
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ConnLimit bounds the connections the exporter's HTTP server holds, on
// every listener (each --web.listen-address, TLS, systemd sockets: it hooks
// the server, not the listeners). Past the bound a new connection makes
// room by closing, in this order: the connection idle longest after a
// /probe; a connection whose request has not been read yet, the oldest
// whose client has sent nothing first, else the oldest (in a CPU overload,
// the request that has waited longest and whose client gives up first;
// counted as slow after slowAfter); the connection idle longest after
// another request. With none of those either, the new connection is closed at
// once. Nothing queues, so an attacker's idle or slow connections and a
// flood of probes cannot keep Prometheus' scrapes of /metrics or the
// kubelet's /-/healthy out, and file descriptors stay bounded.
//
// Which connections serve probes it learns from Track, which wraps the
// server's handler, and ConnContext, which the server must call; without
// them every idle connection counts as a probe's.
type ConnLimit struct {
	max int

	mu        sync.Mutex
	conns     map[net.Conn]*connEntry
	idle      list.List // *connEntry in state idle after a /probe, idle longest first
	idleOther list.List // *connEntry in state idle after another request
	fresh     list.List // *connEntry that have sent no request yet, oldest first

	open   prometheus.GaugeFunc
	closed *prometheus.CounterVec
}

// slowAfter is how long a new connection may take to send its request
// before it counts as slow (Prometheus sends it at once).
const slowAfter = time.Second

type connEntry struct {
	c     net.Conn
	since time.Time
	el    *list.Element // in idle, idleOther or fresh, nil while active
	in    *list.List
	// other: the last request on the connection was not a /probe.
	other bool
}

// connKey is the context key of a request's connection (ConnContext).
type connKey struct{}

// ConnContext is the http.Server hook that lets Track find a request's
// connection.
func (l *ConnLimit) ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// Track wraps the server's handler: a request to /probe marks its
// connection as a probe's, any other request as one to keep when the
// bound is reached (Prometheus' kept-alive /metrics scrapes, dashboards).
func (l *ConnLimit) Track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mark(r, r.URL.Path != "/probe")
		next.ServeHTTP(w, r)
	})
}

func (l *ConnLimit) mark(r *http.Request, other bool) {
	c, _ := r.Context().Value(connKey{}).(net.Conn)
	if c == nil {
		return
	}
	l.mu.Lock()
	if e := l.conns[c]; e != nil {
		e.other = other
	}
	l.mu.Unlock()
}

// NewConnLimit returns the bound on max connections (0: none) and
// registers its metrics with reg (if not nil).
func NewConnLimit(max int, reg prometheus.Registerer) *ConnLimit {
	l := &ConnLimit{max: max, conns: map[net.Conn]*connEntry{}}
	l.open = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "bender_cc_exporter_http_connections",
		Help: "Connections open to the exporter's HTTP server.",
	}, func() float64 {
		l.mu.Lock()
		defer l.mu.Unlock()
		return float64(len(l.conns))
	})
	l.closed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bender_cc_exporter_http_connections_shed_total",
		Help: "Connections the exporter closed at --web.max-connections, by reason: idle (the one idle longest, after a /probe first, to make room), slow (no request after 1s), waiting (the oldest whose request was not read yet: the exporter is short of CPU), refused (the new one: all others busy).",
	}, []string{"reason"})
	for _, r := range []string{"idle", "slow", "waiting", "refused"} {
		l.closed.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(l.open, l.closed)
	}
	return l
}

// ConnState is the http.Server hook.
func (l *ConnLimit) ConnState(c net.Conn, s http.ConnState) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.conns[c]
	switch s {
	case http.StateNew:
		if l.max > 0 && len(l.conns) >= l.max && !l.makeRoom(now) {
			shed(c)
			l.closed.WithLabelValues("refused").Inc()
			return
		}
		e = &connEntry{c: c}
		l.conns[c] = e
		l.park(e, &l.fresh, now)
	case http.StateActive:
		if e != nil {
			l.unpark(e)
		}
	case http.StateIdle:
		if e != nil {
			l.unpark(e)
			if e.other {
				l.park(e, &l.idleOther, now)
			} else {
				l.park(e, &l.idle, now)
			}
		}
	case http.StateClosed, http.StateHijacked:
		if e != nil {
			l.unpark(e)
			delete(l.conns, c)
		}
	}
}

// makeRoom closes one idle, slow or waiting connection, in the order of
// ConnLimit's comment; false when there is none.
func (l *ConnLimit) makeRoom(now time.Time) bool {
	victim, reason := l.idle.Front(), "idle"
	if victim == nil {
		victim = l.waiting()
		if victim != nil {
			reason = "waiting"
			if now.Sub(victim.Value.(*connEntry).since) >= slowAfter {
				reason = "slow"
			}
		}
	}
	if victim == nil {
		victim, reason = l.idleOther.Front(), "idle"
	}
	if victim == nil {
		return false
	}
	e := victim.Value.(*connEntry)
	l.unpark(e)
	delete(l.conns, e.c)
	shed(e.c) // its goroutine sees the close and ends
	l.closed.WithLabelValues(reason).Inc()
	return true
}

// waiting picks the connection to close among those that have sent no
// request the exporter has read: the oldest whose client has sent nothing
// at all (a slow or silent client; the first 16 looked at), else the
// oldest. A request that has arrived, a health check's among them, stays
// while slow clients can make room.
func (l *ConnLimit) waiting() *list.Element {
	n := 0
	for f := l.fresh.Front(); f != nil && n < 16; f, n = f.Next(), n+1 {
		if !sent(f.Value.(*connEntry).c) {
			return f
		}
	}
	return l.fresh.Front()
}

func (l *ConnLimit) park(e *connEntry, in *list.List, now time.Time) {
	e.since, e.in, e.el = now, in, in.PushBack(e)
}

func (l *ConnLimit) unpark(e *connEntry) {
	if e.el != nil {
		e.in.Remove(e.el)
		e.el, e.in = nil, nil
	}
}

// shed closes a connection the exporter turns away with a reset rather
// than the orderly close: nothing lingers in TIME_WAIT or waits for the
// client's FIN, so shedding costs a syscall, not a descriptor per client.
// The client sees "connection reset" at once (Prometheus: a failed scrape).
func shed(c net.Conn) {
	if t, ok := c.(interface{ NetConn() net.Conn }); ok { // TLS
		c = t.NetConn()
	}
	if t, ok := c.(*net.TCPConn); ok {
		_ = t.SetLinger(0)
	}
	_ = c.Close()
}
