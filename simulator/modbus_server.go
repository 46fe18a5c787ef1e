package simulator

import (
	"fmt"
	"io"
	"log"
	"net"
	"sync"
	"time"

	mb "github.com/simonvetter/modbus"

	"github.com/bender-cc/bender_cc_exporter/internal/loopback"
)

// Modbus fault modes (POST /control/cc/<i>/fault?mode=…, --fault i=…).
const (
	ModbusException FaultMode = "modbus_exception" // every read answers exception 02 (illegal data address)
	ModbusHang      FaultMode = "modbus_hang"      // reads are never answered
	ModbusNoValue   FaultMode = "modbus_novalue"   // 0xFFFFFFFF in total power and energy (218-221), as firmware 5.33.9 does now and then
	ModbusCut       FaultMode = "modbus_cut"       // each reply cut off after 5 bytes, then the connection closed
)

var modbusFaults = []FaultMode{ModbusException, ModbusHang, ModbusNoValue, ModbusCut}

// modbusHandler answers one controller's Modbus requests.
type modbusHandler struct {
	f  *Fleet
	id int
	// Requests records the function code of every request, writes too
	// (tests prove the exporter sends 03 only).
	mu    sync.Mutex
	codes []uint8
	// The registers of the current second: a client reads a dozen blocks
	// in a few milliseconds, and a real controller refreshes them about once
	// a second too.
	cachedAt   int64
	cachedMode FaultMode
	cached     map[uint16]uint16
}

// registers returns the controller's registers of this second.
func (h *modbusHandler) registers(mode FaultMode) map[uint16]uint16 {
	now := h.f.opts.Now().Unix()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cached == nil || h.cachedAt != now || h.cachedMode != mode {
		h.cached, h.cachedAt, h.cachedMode = h.f.ModbusRegisters(h.id), now, mode
	}
	return h.cached
}

func (h *modbusHandler) record(fc uint8) {
	h.mu.Lock()
	h.codes = append(h.codes, fc)
	h.mu.Unlock()
}

func (h *modbusHandler) HandleCoils(req *mb.CoilsRequest) ([]bool, error) {
	h.record(map[bool]uint8{false: 1, true: 5}[req.IsWrite])
	return nil, mb.ErrIllegalFunction
}

func (h *modbusHandler) HandleDiscreteInputs(*mb.DiscreteInputsRequest) ([]bool, error) {
	h.record(2)
	return nil, mb.ErrIllegalFunction
}

func (h *modbusHandler) HandleInputRegisters(*mb.InputRegistersRequest) ([]uint16, error) {
	h.record(4)
	return nil, mb.ErrIllegalFunction // integrators: 04 answers "illegal function"
}

func (h *modbusHandler) HandleHoldingRegisters(req *mb.HoldingRegistersRequest) ([]uint16, error) {
	f := h.f
	f.requests[h.id].Add(1)
	if req.IsWrite {
		h.record(16)
		return nil, mb.ErrIllegalFunction // the simulator takes no orders
	}
	h.record(3)
	var mode FaultMode
	if spec := f.faults[h.id].Load(); spec != nil {
		mode = spec.Mode
	}
	switch mode {
	case ModbusException:
		return nil, mb.ErrIllegalDataAddress
	case ModbusHang:
		// The client gives up long before; the handler waits at most 30 s,
		// less when the fault is cleared, so that hung clients do not hold
		// the server's connection slots for long.
		for range 300 {
			if spec := f.faults[h.id].Load(); spec == nil || spec.Mode != ModbusHang {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		return nil, mb.ErrServerDeviceBusy
	}
	regs := h.registers(mode)
	strict := f.modbusBehaviour(h.id).Strict
	out := make([]uint16, req.Quantity)
	for i := range out {
		a := req.Addr + uint16(i)
		v, ok := regs[a]
		if mode == ModbusNoValue && a >= 218 && a <= 221 {
			v = 0xFFFF
		}
		if !ok && (strict || documented[a]) {
			return nil, mb.ErrIllegalDataAddress // a register this controller lacks, or any gap of a strict one
		}
		out[i] = v
	}
	return out, nil
}

// ModbusRegisters renders controller id's registers now, with its DLM
// role and, for a master, its site.
func (f *Fleet) ModbusRegisters(id int) map[uint16]uint16 {
	now := f.opts.Now()
	c := f.Controller(id)
	st := f.stateOf(id, now)
	role, site := f.dlmRole(id), []State(nil)
	if role == DLMMaster {
		for j := id + 1; j < id+f.opts.DLMSiteSize && j <= f.Len(); j++ {
			site = append(site, f.stateOf(j, now))
		}
	}
	return c.Registers(st, now, role, site)
}

// stateOf is controller id's state at t with its injected device fault.
func (f *Fleet) stateOf(id int, t time.Time) State {
	st := f.Controller(id).StateAt(t)
	if spec := f.faults[id].Load(); spec != nil && deviceFaults[spec.Mode] != NoFault {
		st = st.WithFault(deviceFaults[spec.Mode])
	}
	return st
}

// dlmRole: with DLMSiteSize n, controllers 1, n+1, 2n+1 … are masters and
// the n-1 after each are its slaves.
func (f *Fleet) dlmRole(id int) DLMRole {
	n := f.opts.DLMSiteSize
	switch {
	case n < 2:
		return DLMDisabled
	case (id-1)%n == 0:
		return DLMMaster
	}
	return DLMSlave
}

// ModbusServer is one controller's Modbus TCP server.
type ModbusServer struct {
	srv     *mb.ModbusServer
	handler *modbusHandler
	front   net.Listener // ServeModbus: the address clients reach, relayed to srv
}

// ServeModbus starts controller id's Modbus TCP server on addr (host:port).
// Clients reach it through a relay of the simulator's own, which passes
// whole frames, so that the modbus_cut fault can cut a reply off and the
// controller's ModbusBehaviour can drop or delay requests; the library's
// server listens on a free loopback port behind it.
func (f *Fleet) ServeModbus(id int, addr string) (*ModbusServer, error) {
	front, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	inner, err := loopback.FreeAddr()
	if err != nil {
		_ = front.Close()
		return nil, err
	}
	s, err := f.serveModbus(id, inner)
	if err != nil {
		_ = front.Close()
		return nil, err
	}
	s.front = front
	f.modbusAddrs.Store(id, front.Addr().String())
	go s.relay(f, id, inner)
	return s, nil
}

// ServeModbusDirect starts controller id's Modbus TCP server on addr without
// the relay (half the descriptors, for load tests; no modbus_cut fault, no
// one-at-a-time server, no latency).
func (f *Fleet) ServeModbusDirect(id int, addr string) (*ModbusServer, error) {
	if b := f.modbusBehaviour(id); b.needsRelay() {
		return nil, fmt.Errorf("controller %d: a Modbus server that is %s needs ServeModbus", id, b)
	}
	s, err := f.serveModbus(id, addr)
	if err == nil {
		f.modbusAddrs.Store(id, addr)
	}
	return s, err
}

func (f *Fleet) serveModbus(id int, addr string) (*ModbusServer, error) {
	h := &modbusHandler{f: f, id: id}
	srv, err := mb.NewServer(&mb.ServerConfiguration{URL: "tcp://" + addr, Timeout: 30 * time.Second, MaxClients: 64,
		Logger: log.New(io.Discard, "", 0)}, h)
	if err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, err
	}
	return &ModbusServer{srv: srv, handler: h}, nil
}

// ModbusAddr is where controller id serves Modbus TCP, "" when it does not.
func (f *Fleet) ModbusAddr(id int) string {
	if a, ok := f.modbusAddrs.Load(id); ok {
		return a.(string)
	}
	return ""
}

// Stop closes the server and its connections.
func (s *ModbusServer) Stop() error {
	if s.front != nil {
		_ = s.front.Close()
	}
	return s.srv.Stop()
}

// FunctionCodes returns the function code of every request the server has
// received, in order.
func (s *ModbusServer) FunctionCodes() []uint8 {
	s.handler.mu.Lock()
	defer s.handler.mu.Unlock()
	return append([]uint8(nil), s.handler.codes...)
}
