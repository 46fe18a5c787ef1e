package config

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestConnectionCap: at the cap, connections are closed after use; under
// it they are kept for reuse.
func TestConnectionCap(t *testing.T) {
	var servers []*httptest.Server
	for range 12 { // distinct ports: distinct hosts for the transport
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
		defer s.Close()
		servers = append(servers, s)
	}
	path := filepath.Join(t.TempDir(), "c.yml")
	if err := os.WriteFile(path, []byte("modules: {default: {}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	get := func(c *http.Client, u string) {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body) // read to the end, or the connection is not kept
		_ = resp.Body.Close()
	}
	for _, tt := range []struct {
		max, wantMaxOpen int
	}{{0, 12}, {4, 4}} {
		h := NewHolder(path, "test", nil)
		h.MaxConnections = tt.max
		if err := h.Reload(); err != nil {
			t.Fatal(err)
		}
		client := h.Get().Client("default")
		for _, s := range servers[:6] {
			get(client, s.URL)
		}
		for _, s := range servers[6:] {
			get(client, s.URL)
		}
		time.Sleep(50 * time.Millisecond) // closing is asynchronous in the transport
		cc := capOf(t, h)
		if open := cc.open.Load(); open > int64(tt.wantMaxOpen) {
			t.Errorf("max %d: %d connections open after 12 hosts, want at most %d", tt.max, open, tt.wantMaxOpen)
		}
		if tt.max == 0 && cc.open.Load() != 12 {
			t.Errorf("without a cap all 12 connections stay for reuse, got %d", cc.open.Load())
		}
		if got := testutil.ToFloat64(h); got != float64(cc.open.Load()) {
			t.Errorf("bender_cc_exporter_controller_connections = %v, want %d", got, cc.open.Load())
		}
		client.CloseIdleConnections()
	}
}

// capOf finds the connCap of the default module, for the test.
func capOf(t *testing.T, h *Holder) *connCap {
	t.Helper()
	c := h.Get().caps["default"]
	if c == nil {
		t.Fatal("no connCap recorded")
	}
	return c
}

// TestReloadClosesOldConnections: the kept connections of a replaced
// configuration are closed at the reload, also through the cap's round
// tripper (http.Client.CloseIdleConnections must reach the transport).
func TestReloadClosesOldConnections(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "c.yml")
	if err := os.WriteFile(path, []byte("modules: {default: {}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := NewHolder(path, "test", nil)
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	old := h.Get()
	resp, err := old.Client("default").Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if n := old.caps["default"].open.Load(); n != 1 {
		t.Fatalf("%d connections open after one request, want 1 kept", n)
	}
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for old.caps["default"].open.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := old.caps["default"].open.Load(); n != 0 {
		t.Errorf("%d connections of the replaced configuration still open", n)
	}
}
