package main

import (
	"container/list"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// connLimit bounds the connections the exporter's HTTP server holds, on
// every listener (each --web.listen-address, TLS, systemd sockets: it hooks
// the server, not the listeners). Past the bound a new connection makes
// room by closing the one idle longest; with none idle, a connection that
// has sent no request for slowAfter (a slow or silent client); with none of
// those either, the new connection is closed at once. Nothing queues, so an
// attacker's idle or slow connections cannot keep Prometheus' scrapes of
// /metrics, /-/healthy or /probe out, and file descriptors stay bounded.
type connLimit struct {
	max int

	mu    sync.Mutex
	conns map[net.Conn]*connEntry
	idle  list.List // *connEntry in state idle, idle longest first
	fresh list.List // *connEntry that have sent no request yet, oldest first

	open   prometheus.GaugeFunc
	closed *prometheus.CounterVec
}

// slowAfter is how long a new connection may take to send its request
// before it counts as slow (Prometheus sends it at once). Past the bound a
// newcomer is refused while every slot is younger than that, so clients
// that connect faster than max/slowAfter a second and send nothing lock out
// everyone else: at 1 s, 2,000 clients reconnecting each second against a
// bound of 512 cost Prometheus 30% of its scrapes (docs/security.md); at
// 100 ms they would need 5,120 connections a second.
const slowAfter = 100 * time.Millisecond

type connEntry struct {
	c     net.Conn
	since time.Time
	el    *list.Element // in idle or fresh, nil while active
	in    *list.List
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
		Help: "Connections the exporter closed at --web.max-connections, by reason: idle (the one idle longest, to make room), slow (no request after 100ms), refused (the new one: all others busy).",
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
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.conns[c]
	switch s {
	case http.StateNew:
		if l.max > 0 && len(l.conns) >= l.max && !l.makeRoom(now) {
			_ = c.Close()
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
			l.park(e, &l.idle, now)
		}
	case http.StateClosed, http.StateHijacked:
		if e != nil {
			l.unpark(e)
			delete(l.conns, c)
		}
	}
}

// makeRoom closes one idle or slow connection; false when there is none.
func (l *connLimit) makeRoom(now time.Time) bool {
	victim, reason := l.idle.Front(), "idle"
	if victim == nil {
		if f := l.fresh.Front(); f != nil && now.Sub(f.Value.(*connEntry).since) >= slowAfter {
			victim, reason = f, "slow"
		}
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

func (l *connLimit) park(e *connEntry, in *list.List, now time.Time) {
	e.since, e.in, e.el = now, in, in.PushBack(e)
}

func (l *connLimit) unpark(e *connEntry) {
	if e.el != nil {
		e.in.Remove(e.el)
		e.el, e.in = nil, nil
	}
}
