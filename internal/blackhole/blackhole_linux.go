// Package blackhole makes addresses whose connects never complete, for
// tests and load runs: what a client sees of a site whose packets are
// dropped on the way (a dead LTE router, a VPN down, a firewall), without
// root, iptables or a network namespace.
//
// A Hole is a listening socket that never accepts, with its accept queue
// full. Linux drops a SYN to a listener whose accept queue is full
// (tcp_conn_request: ListenOverflows) instead of answering it, so every
// connect to the address retransmits its SYN until the client gives up.
// (A closed port would answer with a RST at once: that is refused, not dark.)
package blackhole

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// Hole is an address whose connects never complete.
type Hole struct {
	fd   int
	addr string
	fill net.Conn // the one connection the queue holds
}

// Listen takes addr (an IPv4 host:port; port 0 picks one; SO_REUSEADDR,
// as Go's listeners, so that connections left from an earlier listener on
// it do not stand in the way).
func Listen(addr string) (*Hole, error) {
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
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("blackhole on %s: %w", addr, err)
	}
	h := &Hole{fd: fd, addr: netip.AddrPortFrom(ap.Addr(), uint16(sa.(*syscall.SockaddrInet4).Port)).String()}
	// Fill the queue. When another client's connect came first, the queue
	// is full already and this one times out: either way it is full.
	h.fill, _ = net.DialTimeout("tcp", h.addr, 500*time.Millisecond)
	return h, nil
}

// Addr is the hole's host:port.
func (h *Hole) Addr() string { return h.addr }

// Close frees the address (the queued connection is reset).
func (h *Hole) Close() error {
	if h.fill != nil {
		_ = h.fill.Close()
	}
	return syscall.Close(h.fd)
}
