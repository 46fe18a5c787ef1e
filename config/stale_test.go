package config

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestStaleConnectionRetried: a kept connection that gives no answer (its
// peer gone without a word) costs half the probe's timeout, not the probe:
// the request is asked again on a new connection. A new connection that is
// slow to answer is waited for.
func TestStaleConnectionRetried(t *testing.T) {
	var slow atomic.Bool
	conns, get := keptConnServer(t, func(w http.ResponseWriter, r *http.Request, n int, _ bool) {
		if n > 1 { // a kept connection: as dead as one a NAT forgot
			<-r.Context().Done()
			return
		}
		if slow.Load() {
			time.Sleep(700 * time.Millisecond)
		}
		_, _ = io.WriteString(w, "ok")
	})
	slow.Store(true) // longer than half the timeout, on a new connection
	if took, err := get(); err != nil {
		t.Fatalf("first request (new connection, %s): %v", took, err)
	}
	slow.Store(false)
	took, err := get()
	if err != nil {
		t.Fatalf("second request, first on the kept connection (%s): %v", took, err)
	}
	if took > 2500*time.Millisecond {
		t.Errorf("second request took %s, want about half the probe's timeout (0.5 s)", took)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (the kept one, then a new one)", n)
	}
}

// TestStaleWaitPerConnection: when the transport itself retries on a new
// connection (the kept one was closed as the request went out), the wait
// is the new connection's: a slow answer there is not given up, and no
// third connection is made.
func TestStaleWaitPerConnection(t *testing.T) {
	conns, get := keptConnServer(t, func(w http.ResponseWriter, _ *http.Request, n int, first bool) {
		switch {
		case n > 1: // the kept connection, closed without an answer
			c, _, _ := w.(http.Hijacker).Hijack()
			_ = c.Close()
			return
		case !first: // the transport's new connection: slower than the wait
			time.Sleep(700 * time.Millisecond)
		}
		_, _ = io.WriteString(w, "ok")
	})
	for i := range 2 {
		if _, err := get(); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (the kept one, then the transport's new one)", n)
	}
}

// keptConnServer serves handle, telling it the request's number on its
// connection (n) and whether the connection is the first one, and returns
// the count of connections made and a GET through the default module's
// client with a probe timeout of 1 s.
func keptConnServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, n int, first bool)) (*atomic.Int64, func() (time.Duration, error)) {
	t.Helper()
	var (
		mu    sync.Mutex
		seen  = map[string]int{} // requests per connection
		conns atomic.Int64
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.RemoteAddr]++
		n, first := seen[r.RemoteAddr], len(seen) == 1
		mu.Unlock()
		handle(w, r, n, first)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	h := NewHolder("", "test", nil)
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	client := h.Get().Client(DefaultModule)
	return &conns, func() (time.Duration, error) {
		ctx, cancel := context.WithTimeout(WithProbeTimeout(context.Background(), time.Second), 3*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return time.Since(start), err
		}
		defer func() { _ = resp.Body.Close() }()
		_, err = io.ReadAll(resp.Body)
		return time.Since(start), err
	}
}
