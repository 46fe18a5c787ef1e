package admission

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
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
	lim := NewConnLimit(16, reg)
	addr := serveLimited(t, lim, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "Healthy\n") })
	var silent []net.Conn
	t.Cleanup(func() {
		for _, c := range silent {
			_ = c.Close()
		}
	})
	for range 16 {
		c, err := net.Dial("tcp", addr)
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
		c, err := net.Dial("tcp", addr)
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
	c, err := net.Dial("tcp", addr) // the 16th again
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
// connection idle after a /probe, then one whose request has not been
// read, and one idle after /metrics (Prometheus keeps that one open between
// scrapes) only when there is nothing else; with every connection busy the
// newcomer is closed.
func TestBoundKeepsOtherConnections(t *testing.T) {
	lim := NewConnLimit(3, prometheus.NewRegistry())
	conn := func() net.Conn {
		c, peer := net.Pipe()
		t.Cleanup(func() { _ = c.Close(); _ = peer.Close() })
		return c
	}
	closed := func(c net.Conn) bool {
		_ = c.SetWriteDeadline(time.Now().Add(time.Millisecond))
		_, err := c.Write([]byte("x"))
		return errors.Is(err, io.ErrClosedPipe)
	}
	// serve runs one request on c through Track, as the server does.
	serve := func(c net.Conn, path string) {
		lim.ConnState(c, http.StateActive)
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r = r.WithContext(lim.ConnContext(r.Context(), c))
		lim.Track(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(httptest.NewRecorder(), r)
		lim.ConnState(c, http.StateIdle)
	}
	metrics, p1, p2 := conn(), conn(), conn()
	for _, c := range []net.Conn{metrics, p1, p2} {
		lim.ConnState(c, http.StateNew)
	}
	serve(metrics, "/metrics")
	serve(p1, "/probe?target=a")
	serve(p2, "/probe?target=b")

	shed := func(reason string) float64 { return testutil.ToFloat64(lim.closed.WithLabelValues(reason)) }
	n1 := conn()
	lim.ConnState(n1, http.StateNew)
	if !closed(p1) || closed(metrics) || closed(p2) || shed("idle") != 1 {
		t.Fatalf("first newcomer: want the probe connection idle longest closed; closed: p1 %v, metrics %v, p2 %v", closed(p1), closed(metrics), closed(p2))
	}
	lim.ConnState(p2, http.StateActive)
	n2 := conn()
	lim.ConnState(n2, http.StateNew)
	if !closed(n1) || closed(metrics) || shed("waiting") != 1 {
		t.Fatalf("second newcomer: want the waiting one closed; closed: n1 %v, metrics %v", closed(n1), closed(metrics))
	}
	lim.ConnState(n2, http.StateActive)
	n3 := conn()
	lim.ConnState(n3, http.StateNew)
	if !closed(metrics) || shed("idle") != 2 {
		t.Fatalf("third newcomer: want /metrics' connection closed, the only one not busy")
	}
	lim.ConnState(n3, http.StateActive)
	n4 := conn()
	lim.ConnState(n4, http.StateNew)
	if !closed(n4) || shed("refused") != 1 {
		t.Fatalf("fourth newcomer beside 3 busy connections: not refused")
	}
}

// TestRefusedConnectionReset: a connection refused at the bound is reset,
// not closed in order: nothing waits for the client's FIN.
func TestRefusedConnectionReset(t *testing.T) {
	lim := NewConnLimit(1, prometheus.NewRegistry())
	release := make(chan struct{})
	addr := serveLimited(t, lim, func(http.ResponseWriter, *http.Request) { <-release })
	t.Cleanup(func() { close(release) })
	busy, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = busy.Close() })
	_, _ = io.WriteString(busy, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	deadline := time.Now().Add(10 * time.Second)
	for {
		lim.mu.Lock()
		active := len(lim.conns) == 1 && lim.fresh.Len() == 0
		lim.mu.Unlock()
		if active {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first connection never became active")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// So fast a reset may even fail the dial.
	c, err := net.Dial("tcp", addr)
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("a connection beyond the bound: %v, want a reset", err)
	}
}

// serveLimited serves h on a loopback port with the exporter's server
// settings and lim's ConnState hook; it returns the address.
func serveLimited(t *testing.T, lim *ConnLimit, h http.HandlerFunc) string {
	t.Helper()
	// The exporter's server settings (main.newServer).
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 32 << 10}
	srv.ConnState = lim.ConnState
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}
