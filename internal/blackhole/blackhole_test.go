package blackhole

import (
	"errors"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// TestConnectNeverCompletes: a connect to a hole times out (no SYN-ACK,
// no RST).
func TestConnectNeverCompletes(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	h, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, err = net.DialTimeout("tcp", h.Addr(), 300*time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		_ = h.Close()
		t.Fatalf("connect to the hole: %v, want a timeout (refused would be a closed port, nil a completed connect)", err)
	}
	_ = h.Close()
}

// TestCloseFreesTheAddress: once closed, the address refuses (nothing
// listens) rather than staying dark.
func TestCloseFreesTheAddress(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	h, err := Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = h.Close()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		_ = c.Close()
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("connect after Close: %v, want connection refused", err)
	}
}
