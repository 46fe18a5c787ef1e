package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestSlowConnectionsBounded: clients that connect and send nothing (or
// trickle their headers) fill the bound; a new connection then closes one
// that has been silent for slowAfter, so /-/healthy still answers, and while
// every slot holds a connection younger than that the newcomer is refused at
// once rather than queued.
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
	opened := time.Now()
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
	// All 16 are fresh: the newcomer is refused at once (closed, no answer).
	// On a machine so loaded that getting here took slowAfter they are slow
	// already, and the newcomer closes one of them.
	out, _ := get()
	if fresh := time.Since(opened) < slowAfter; fresh {
		if strings.HasPrefix(out, "HTTP/1.1 200") {
			t.Errorf("a 17th connection was served while 16 fresh ones held the bound")
		}
		if n := testutil.ToFloat64(lim.closed.WithLabelValues("refused")); n != 1 {
			t.Errorf("refused = %g, want 1", n)
		}
	} else {
		t.Logf("the 16 connections took %s to open: too slow to see a fresh one refused", time.Since(opened))
	}
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
