package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestSlowConnectionsBounded: clients that connect and send nothing (or
// trickle their headers) fill the bound; a new connection then closes the
// oldest of them (after a second counted as slow), so /-/healthy still
// answers.
func TestSlowConnectionsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	lim := newConnLimit(16, reg)
	srv := newServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "Healthy\n") }), time.Minute, 10*time.Second)
	srv.ConnState = lim.ConnState
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	var silent []net.Conn
	t.Cleanup(func() {
		for _, c := range silent {
			_ = c.Close()
		}
	})
	for range 16 {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(c, "GET /-/hea") // and nothing more
		silent = append(silent, c)
	}
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(lim.open) < 16 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	get := func() (string, error) {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			return "", err
		}
		defer func() { _ = c.Close() }()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, "GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		b, err := io.ReadAll(c)
		return string(b), err
	}
	// All 16 are fresh: the newcomer closes the oldest of them (its
	// request waits longest) and is served.
	if out, err := get(); !strings.HasPrefix(out, "HTTP/1.1 200 OK") {
		t.Errorf("a 17th connection beside 16 fresh ones: %q %v", out, err)
	}
	if n := testutil.ToFloat64(lim.closed.WithLabelValues("waiting")); n != 1 {
		t.Errorf("waiting = %g, want 1", n)
	}
	waitOpen := func(n float64) {
		deadline := time.Now().Add(10 * time.Second)
		for testutil.ToFloat64(lim.open) != n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitOpen(15)
	c, err := net.Dial("tcp", l.Addr().String()) // the 16th again
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "GET /-/hea")
	silent = append(silent, c)
	waitOpen(16)
	time.Sleep(slowAfter + 100*time.Millisecond)
	// Now they are slow: a newcomer closes one of them to get in.
	for i := range 5 {
		if out, err := get(); !strings.HasPrefix(out, "HTTP/1.1 200 OK") {
			t.Errorf("probe %d beside 16 slow connections: %q %v", i, out, err)
		}
	}
	if n := testutil.ToFloat64(lim.closed.WithLabelValues("slow")); n < 1 {
		t.Errorf("slow = %g, want at least 1", n)
	}
	if n := testutil.ToFloat64(lim.open); n > 16 {
		t.Errorf("%g connections open with a bound of 16", n)
	}
}

// TestBoundKeepsOtherConnections: at the bound a newcomer closes a
// connection idle after a /probe before one idle after /metrics (Prometheus
// keeps that one open between scrapes), and with every connection busy it
// is refused at once, with a reset.
func TestBoundKeepsOtherConnections(t *testing.T) {
	lim := newConnLimit(3, prometheus.NewRegistry())
	release := make(chan struct{})
	srv := newServer(lim.track(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("block") != "" {
			<-release
		}
		_, _ = io.WriteString(w, "ok\n")
	})), time.Minute, 10*time.Second)
	srv.ConnState, srv.ConnContext = lim.ConnState, lim.ConnContext
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)

	dial := func() net.Conn {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		return c
	}
	send := func(c net.Conn, path string) { _, _ = io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n") }
	// One answer on a kept-alive connection: the headers and "ok\n".
	answer := func(c net.Conn) error {
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	metrics := dial()
	send(metrics, "/metrics")
	if err := answer(metrics); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // idle longest
	probes := []net.Conn{dial(), dial()}
	for _, c := range probes {
		send(c, "/probe?target=x")
		if err := answer(c); err != nil {
			t.Fatal(err)
		}
	}
	// Full: a newcomer closes the first probe connection, not /metrics'.
	c := dial()
	send(c, "/-/healthy")
	if err := answer(c); err != nil {
		t.Fatalf("a newcomer at the bound: %v", err)
	}
	send(metrics, "/metrics")
	if err := answer(metrics); err != nil {
		t.Errorf("the /metrics connection was closed to make room: %v", err)
	}
	if err := answer(probes[0]); err == nil {
		t.Errorf("the probe connection idle longest is still open")
	}
	// Every connection busy: the newcomer is reset at once.
	for _, c := range []net.Conn{metrics, probes[1], c} {
		send(c, "/probe?block=1")
	}
	deadline := time.Now().Add(5 * time.Second)
	for busy := false; !busy && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		lim.mu.Lock()
		busy = len(lim.conns) == 3 && lim.idle.Len()+lim.idleOther.Len()+lim.fresh.Len() == 0
		lim.mu.Unlock()
	}
	for time.Now().Before(deadline) && testutil.ToFloat64(lim.closed.WithLabelValues("refused")) == 0 {
		n := dial()
		send(n, "/-/healthy")
		_ = n.SetReadDeadline(time.Now().Add(time.Second))
		_, err := n.Read(make([]byte, 1))
		if testutil.ToFloat64(lim.closed.WithLabelValues("refused")) > 0 && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("a refused connection read %v, want a reset", err)
		}
	}
	if n := testutil.ToFloat64(lim.closed.WithLabelValues("refused")); n == 0 {
		t.Errorf("no connection refused with every one busy")
	}
	unblock()
}
