package main

import (
	"container/list"
	"net"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// connLimit bounds the connections the exporter's HTTP server holds, on
// every listener (each --web.listen-address, TLS, systemd sockets: it hooks
// the server, not the listeners). Past the bound a new connection makes
// room by closing the one idle longest; with none idle, the oldest one that
// has sent no request yet (a slow or silent client: Prometheus sends its
// request as soon as it connects, long before a newer connection would
// make it the oldest); with every slot in a request, the new connection is
// closed at once. Nothing queues, so an attacker's idle or slow connections
// cannot keep Prometheus' scrapes of /metrics, /-/healthy or /probe out,
// and file descriptors stay bounded. (Sparing silent connections younger
// than a grace of 1 s, and closing the newcomer instead, let 2,000 clients
// reconnecting every second keep all 512 slots young: Prometheus lost 30%
// of its scrapes; docs/security.md.)
type connLimit struct {
	max int

	mu    sync.Mutex
	conns map[net.Conn]*connEntry
	idle  list.List // *connEntry in state idle, idle longest first
	fresh list.List // *connEntry that have sent no request yet, oldest first

	open   prometheus.GaugeFunc
	closed *prometheus.CounterVec
}

type connEntry struct {
	c  net.Conn
	el *list.Element // in idle or fresh, nil while active
	in *list.List
}

func newConnLimit(max int, reg prometheus.Registerer) *connLimit {
	l := &connLimit{max: max, conns: map[net.Conn]*connEntry{}}
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
		Help: "Connections the exporter closed at --web.max-connections, by reason: idle (the one idle longest, to make room), slow (the oldest that has sent no request, to make room), refused (the new one: all others busy).",
	}, []string{"reason"})
	for _, r := range []string{"idle", "slow", "refused"} {
		l.closed.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(l.open, l.closed)
	}
	return l
}

// ConnState is the http.Server hook.
func (l *connLimit) ConnState(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.conns[c]
	switch s {
	case http.StateNew:
		if l.max > 0 && len(l.conns) >= l.max && !l.makeRoom() {
			_ = c.Close()
			l.closed.WithLabelValues("refused").Inc()
			return
		}
		e = &connEntry{c: c}
		l.conns[c] = e
		l.park(e, &l.fresh)
	case http.StateActive:
		if e != nil {
			l.unpark(e)
		}
	case http.StateIdle:
		if e != nil {
			l.unpark(e)
			l.park(e, &l.idle)
		}
	case http.StateClosed, http.StateHijacked:
		if e != nil {
			l.unpark(e)
			delete(l.conns, c)
		}
	}
}

// makeRoom closes one idle or slow connection; false when there is none.
func (l *connLimit) makeRoom() bool {
	victim, reason := l.idle.Front(), "idle"
	if victim == nil {
		victim, reason = l.fresh.Front(), "slow"
	}
	if victim == nil {
		return false
	}
	e := victim.Value.(*connEntry)
	l.unpark(e)
	delete(l.conns, e.c)
	_ = e.c.Close() // its goroutine sees the close and ends
	l.closed.WithLabelValues(reason).Inc()
	return true
}

func (l *connLimit) park(e *connEntry, in *list.List) {
	e.in, e.el = in, in.PushBack(e)
}

func (l *connLimit) unpark(e *connEntry) {
	if e.el != nil {
		e.in.Remove(e.el)
		e.el, e.in = nil, nil
	}
}
