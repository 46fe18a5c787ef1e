package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// blackhole is a listening socket that never accepts, with its accept
// queue full. Linux drops a SYN to a listener whose accept queue is full
// (tcp_conn_request: ListenOverflows) instead of answering it, so every
// connect to the address retransmits its SYN until the client gives up:
// what a client sees of an address whose packets are dropped on the way,
// without root, iptables or a network namespace. (A closed port would
// answer with a RST at once; that is not dark, that is refused.)
type blackhole struct {
	fd   int
	fill net.Conn // the one connection the queue holds
}

// listenBlackhole takes addr (an IPv4 host:port; SO_REUSEADDR, as Go's
// listeners, so that connections left from an earlier listener on it do
// not stand in the way).
func listenBlackhole(addr string) (*blackhole, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		return nil, fmt.Errorf("blackhole on %q: an IPv4 host:port is needed", addr)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("blackhole on %s: %w", addr, err)
	}
	err = errors.Join(
		syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1),
		syscall.Bind(fd, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}),
		// Backlog 0: the accept queue holds one connection.
		syscall.Listen(fd, 0))
	if err != nil {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("blackhole on %s: %w", addr, err)
	}
	b := &blackhole{fd: fd}
	// Fill the queue. When another client's connect came first, the queue
	// is full already and this one times out: either way it is full.
	b.fill, _ = net.DialTimeout("tcp", addr, 500*time.Millisecond)
	return b, nil
}

// Close frees the address (the queued connection is reset).
func (b *blackhole) Close() error {
	if b.fill != nil {
		_ = b.fill.Close()
	}
	return syscall.Close(b.fd)
}
