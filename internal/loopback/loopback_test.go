package loopback

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

func TestFreeAddrBelowEphemeralRange(t *testing.T) {
	lo := ephemeralStart()
	seen := map[string]bool{}
	for range 20 {
		addr, err := FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		host, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(p)
		if host != "127.0.0.1" || port < lowest || port >= lo {
			t.Fatalf("FreeAddr() = %s, want 127.0.0.1 with a port in [%d, %d)", addr, lowest, lo)
		}
		// It is free: a server can bind it.
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("binding %s: %v", addr, err)
		}
		_ = l.Close()
		seen[addr] = true
	}
	if len(seen) < 2 {
		t.Errorf("20 calls gave %d distinct addresses: not random", len(seen))
	}
}

func TestFirstFreeSkipsPortsInUse(t *testing.T) {
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	_, p, _ := net.SplitHostPort(addr)
	busy, _ := strconv.Atoi(p)

	// The busy port twice, then ports counting down from it until one binds.
	tries, next := 0, busy
	got, err := firstFree(func() int {
		tries++
		if tries > 2 {
			next--
		}
		return next
	})
	if err != nil {
		t.Fatal(err)
	}
	if got == addr || tries < 3 {
		t.Fatalf("firstFree returned %s after %d tries; %s is in use", got, tries, addr)
	}

	// Nothing free: an error, not a busy address.
	if got, err := firstFree(func() int { return busy }); err == nil {
		t.Fatalf("firstFree with only a busy port = %s, want an error", got)
	}
}

// TestWaitReadyTrustsOnlyItsServer: an answer on the address while the
// server has exited (it could not bind; another process answers there) is
// not readiness.
func TestWaitReadyTrustsOnlyItsServer(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer other.Close()

	exited := make(chan struct{})
	close(exited)
	if err := WaitReady(other.URL+"/-/ready", exited, 5*time.Second); !errors.Is(err, ErrExited) {
		t.Fatalf("WaitReady with the server gone = %v, want ErrExited", err)
	}
	running := make(chan struct{})
	if err := WaitReady(other.URL+"/-/ready", running, 5*time.Second); err != nil {
		t.Fatalf("WaitReady with the server running = %v, want ready", err)
	}
	// Exiting during the grace period after the answer: not ready either.
	exiting := make(chan struct{})
	time.AfterFunc(50*time.Millisecond, func() { close(exiting) })
	if err := WaitReady(other.URL+"/-/ready", exiting, 5*time.Second); !errors.Is(err, ErrExited) {
		t.Fatalf("WaitReady with the server exiting after the answer = %v, want ErrExited", err)
	}
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	if err := WaitReady(notFound.URL+"/-/ready", running, 300*time.Millisecond); err == nil || errors.Is(err, ErrExited) {
		t.Fatalf("WaitReady on a 404 = %v, want a timeout", err)
	}
}
