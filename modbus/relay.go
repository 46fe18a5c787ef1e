package modbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mb "github.com/simonvetter/modbus"

	"github.com/bender-cc/bender_cc_exporter/collector"
)

// session is one probe's connection. The library dials by itself and takes
// no connection, so it is handed a loopback socket whose other end this
// package relays to the connection it dialled itself, through the module's
// dialer. The relay is also a guard: it forwards only read-holding-registers
// requests (function code 03) and never one that touches personal data.
type session struct {
	ctx    context.Context
	client *mb.ModbusClient
	ctrl   net.Conn // to the controller: ours
	lib    net.Conn // the library's loopback connection, our end
	cause  atomic.Pointer[error]
	stop   func() bool

	mu    sync.Mutex
	got   int    // reply bytes since the last request
	first []byte // the first bytes of that reply
}

var errClosed = errors.New("connection closed")

func open(ctx context.Context, dial Dialer, addr string, unit uint8) (*session, error) {
	ctrl, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, describeDial(ctx, err)
	}
	s := &session{ctx: ctx, ctrl: ctrl}
	if err := s.connectLibrary(ctx, unit); err != nil {
		_ = ctrl.Close()
		return nil, err
	}
	s.stop = context.AfterFunc(ctx, s.abort)
	go s.forwardRequests()
	go s.forwardReplies()
	return s, nil
}

// connectLibrary opens the library's client on a loopback listener of
// the pool and keeps the accepted end. A listener serves one session at a
// time, so the connection it accepts is the library's; binding a new one
// per probe would cost more than the whole probe where many ports are in
// TIME_WAIT.
func (s *session) connectLibrary(ctx context.Context, unit uint8) error {
	ln, err := relayListeners.get()
	if err != nil {
		return fmt.Errorf("modbus relay: %w", err)
	}
	defer relayListeners.put(ln)
	timeout := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	s.client, err = mb.NewClient(&mb.ClientConfiguration{URL: "tcp://" + ln.Addr().String(), Timeout: timeout,
		Logger: log.New(sink{s}, "", 0)})
	if err != nil {
		return fmt.Errorf("modbus client: %w", err)
	}
	if err := s.client.Open(); err != nil {
		return fmt.Errorf("modbus relay: %w", err)
	}
	// The handshake is done (the kernel's backlog): Accept returns at once.
	_ = ln.SetDeadline(time.Now().Add(time.Second))
	if s.lib, err = ln.Accept(); err != nil {
		_ = s.client.Close()
		return fmt.Errorf("modbus relay: %w", err)
	}
	return s.client.SetUnitId(unit)
}

// listenerPool keeps the relay's loopback listeners for reuse.
type listenerPool struct {
	mu   sync.Mutex
	free []*net.TCPListener
}

var relayListeners listenerPool

func (p *listenerPool) get() (*net.TCPListener, error) {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		l := p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return l, nil
	}
	p.mu.Unlock()
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	return l, err
}

func (p *listenerPool) put(l *net.TCPListener) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) >= 64 {
		_ = l.Close()
		return
	}
	p.free = append(p.free, l)
}

// read reads one block of holding registers.
func (s *session) read(b Block) ([]uint16, error) {
	if err := s.ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: before the read of registers %d-%d: %w", collector.ErrTimeout, b.Addr, b.Addr+b.Count-1, err)
	}
	w, err := s.client.ReadRegisters(b.Addr, b.Count, mb.HOLDING_REGISTER)
	if err != nil {
		return nil, s.explain(err, b)
	}
	return w, nil
}

func (s *session) close() {
	s.stop()
	s.abort()
	_ = s.client.Close()
}

// abort ends both connections: a read waiting in the library returns.
func (s *session) abort() {
	_ = s.ctrl.Close()
	_ = s.lib.Close()
}

func (s *session) fail(err error) {
	s.cause.CompareAndSwap(nil, &err)
	s.abort()
}

func (s *session) replied() (int, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got, s.first
}

// forwardRequests passes the library's requests to the controller, one
// frame at a time, refusing every one that is not a plain read.
func (s *session) forwardRequests() {
	var frame [7 + 5]byte // MBAP header, function code, address, quantity
	for {
		if _, err := io.ReadFull(s.lib, frame[:]); err != nil {
			return
		}
		fc := frame[7]
		addr := uint16(frame[8])<<8 | uint16(frame[9])
		n := uint16(frame[10])<<8 | uint16(frame[11])
		length := uint16(frame[4])<<8 | uint16(frame[5])
		if fc != 0x03 || length != 6 || touchesPersonal(addr, n) {
			s.fail(fmt.Errorf("%w (function code %d, registers %d+%d)", ErrRefused, fc, addr, n))
			return
		}
		s.mu.Lock()
		s.got, s.first = 0, nil
		s.mu.Unlock()
		if _, err := s.ctrl.Write(frame[:]); err != nil {
			return
		}
	}
}

// forwardReplies passes what the controller sends to the library and
// remembers how the current reply begins, to explain a bad one.
func (s *session) forwardReplies() {
	buf := make([]byte, 512)
	for {
		n, err := s.ctrl.Read(buf)
		if n > 0 {
			s.mu.Lock()
			if len(s.first) < 8 {
				s.first = append(s.first, buf[:min(n, 8-len(s.first))]...)
			}
			s.got += n
			s.mu.Unlock()
			if _, werr := s.lib.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			// Let the library see the end: EOF when the controller closed.
			_ = s.lib.(*net.TCPConn).CloseWrite()
			return
		}
	}
}

func touchesPersonal(addr, n uint16) bool {
	end := uint32(addr) + uint32(n) - 1
	for _, p := range personal {
		if uint32(addr) <= uint32(p[1]) && end >= uint32(p[0]) {
			return true
		}
	}
	return false
}

// sink receives the library's log lines. Two of them mean that the reply
// will never come (the library waits for another frame): fail at once.
type sink struct{ s *session }

func (k sink) Write(p []byte) (int, error) {
	line := string(p)
	switch {
	case strings.Contains(line, "unexpected transaction id"):
		k.s.fail(fmt.Errorf("%w: %s", ErrWrongID, strings.TrimSpace(line[strings.Index(line, "received"):])))
	case strings.Contains(line, "unexpected protocol id"):
		k.s.fail(fmt.Errorf("%w: a reply whose protocol identifier is not 0", ErrNotModbus))
	}
	return len(p), nil
}
