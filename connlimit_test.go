package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestSlowConnectionsBounded: clients that connect and send nothing (or
// trickle their headers) fill the bound; a new connection then closes the
// oldest of them at once, however young, so /-/healthy still answers; only
// when every slot is in a request is the newcomer refused, at once rather
// than queued.
func TestSlowConnectionsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	lim := newConnLimit(16, reg)
	var blocked atomic.Int64
	release := make(chan struct{})
	srv := newServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			blocked.Add(1)
			<-release
		}
		_, _ = io.WriteString(w, "Healthy\n")
	}), time.Minute, 10*time.Second)
	srv.ConnState = lim.ConnState
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	var held []net.Conn
	t.Cleanup(func() {
		for _, c := range held {
			_ = c.Close()
		}
	})
	hold := func(req string) {
		t.Helper()
		for range 16 {
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.WriteString(c, req)
			held = append(held, c)
		}
	}
	waitFor := func(what string, done func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !done(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s", what)
			}
		}
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

	hold("GET /-/hea") // and nothing more
	waitFor("16 connections", func() bool { return testutil.ToFloat64(lim.open) == 16 })
	// A newcomer closes the oldest silent one to get in, and gets its answer.
	for i := range 5 {
		if out, err := get(); !strings.HasPrefix(out, "HTTP/1.1 200 OK") {
			t.Errorf("probe %d beside 16 slow connections: %q %v", i, out, err)
		}
	}
	_ = held[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := held[0].Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the oldest silent connection was not closed: %v", err)
	}
	if n := testutil.ToFloat64(lim.closed.WithLabelValues("slow")); n < 1 {
		t.Errorf("slow = %g, want at least 1", n)
	}
	if n := testutil.ToFloat64(lim.open); n > 16 {
		t.Errorf("%g connections open with a bound of 16", n)
	}

	// Every slot in a request: the newcomer is refused at once (closed, no answer).
	for _, c := range held {
		_ = c.Close()
	}
	held = nil
	waitFor("the silent connections to close", func() bool { return testutil.ToFloat64(lim.open) == 0 })
	hold("GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor("16 requests in progress", func() bool { return blocked.Load() == 16 })
	out, err := get()
	if strings.HasPrefix(out, "HTTP/1.1 200") || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a 17th connection beside 16 busy ones: %q %v, want it closed at once", out, err)
	}
	if n := testutil.ToFloat64(lim.closed.WithLabelValues("refused")); n != 1 {
		t.Errorf("refused = %g, want 1", n)
	}
	close(release)
}
