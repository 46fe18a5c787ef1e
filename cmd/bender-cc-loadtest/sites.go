package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bender-cc/bender_cc_exporter/internal/blackhole"
)

// darkMode is how a site goes dark.
type darkMode string

const (
	// darkHang: connections are accepted and requests read, and nothing
	// is ever answered (the simulator's hang fault): a site behind a
	// router or VPN concentrator that accepts and forwards into nothing.
	darkHang darkMode = "hang"
	// darkNoSYNACK: a connect never completes (no SYN-ACK, no RST): a
	// site whose packets are dropped on the way (a dead LTE link, a
	// blackholed route). Connections already open hang as in darkHang.
	darkNoSYNACK darkMode = "no-syn-ack"
)

// parseDarkMode checks a --dark-mode value.
func parseDarkMode(s string) (darkMode, error) {
	switch m := darkMode(s); m {
	case darkHang, darkNoSYNACK:
		return m, nil
	}
	return "", fmt.Errorf("dark mode %q: want %s or %s", s, darkHang, darkNoSYNACK)
}

// site is one loopback host of the simulated fleet (127.1.x.y), serving
// its controllers on one address for the whole run; it goes dark and comes
// back as a whole, as the controllers behind one router do.
type site struct {
	addr     string       // host:port
	fleet    http.Handler // the simulated controllers
	dark     atomic.Bool  // requests hang
	mu       sync.Mutex
	listener net.Listener // nil while blackholed
	hole     io.Closer    // the never-accepting listener (darkNoSYNACK), nil otherwise
}

// startSite serves fleet on host at a free port.
func startSite(fleet http.Handler, host string) (*site, error) {
	s := &site{addr: net.JoinHostPort(host, "0"), fleet: fleet}
	if err := s.listen(); err != nil {
		return nil, err
	}
	s.addr = s.listener.Addr().String()
	return s, nil
}

// ServeHTTP answers as the fleet does, or never while the site is dark.
func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.dark.Load() {
		<-r.Context().Done() // until the client gives up
		return
	}
	s.fleet.ServeHTTP(w, r)
}

func (s *site) listen() error {
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.addr, err)
	}
	s.listener = l
	go func() { _ = (&http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}).Serve(l) }()
	return nil
}

// goDark makes the site dark in the given way.
func (s *site) goDark(mode darkMode) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dark.Store(true)
	if mode != darkNoSYNACK || s.hole != nil {
		return nil
	}
	// The listener goes, the connections it accepted stay (and hang); a
	// listener that never accepts takes the address.
	_ = s.listener.Close()
	s.listener = nil
	h, err := blackhole.Listen(s.addr)
	if err != nil {
		return err
	}
	s.hole = h
	return nil
}

// comeBack makes a dark site answer again, on the same address.
func (s *site) comeBack() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hole != nil {
		_ = s.hole.Close()
		s.hole = nil
		if err := s.listen(); err != nil {
			return err
		}
	}
	s.dark.Store(false)
	return nil
}

// close stops the site's listeners (its open connections end with the process).
func (s *site) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener != nil {
		_ = s.listener.Close()
	}
	if s.hole != nil {
		_ = s.hole.Close()
	}
}

// darkSites picks round(share × n) of n sites, spread evenly over them
// (the targets' order in the interval is by hash, so any choice is spread
// over the interval too).
func darkSites(n int, share float64) []bool {
	k := int(share*float64(n) + 0.5)
	dark := make([]bool, n)
	for i := range dark {
		dark[i] = i*k/n != (i+1)*k/n
	}
	return dark
}
