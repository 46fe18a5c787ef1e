package modbus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	mb "github.com/simonvetter/modbus"

	"github.com/bender-cc/bender_cc_exporter/collector"
)

// Dialer connects to a controller; the probe handler passes the module's,
// which reaches only what probe.allowed_targets allows.
type Dialer func(ctx context.Context, network, addr string) (net.Conn, error)

// Probe reads one controller's registers over one TCP connection, closed
// before it returns, within the deadline of ctx (the dial included), with no
// retry. addr is host:port; unit the Modbus unit id.
func Probe(ctx context.Context, dial Dialer, addr string, unit uint8) collector.Result {
	start := time.Now()
	st, err := Read(ctx, dial, addr, unit)
	return collector.Result{State: st, Err: err, Duration: time.Since(start),
		Sources: []collector.SourceStatus{{Name: "modbus", Err: err}}}
}

// Read reads and decodes one controller's registers: the firmware version
// first (it tells the register set), then the blocks of that set, the DLM
// blocks on a DLM master, and the optional registers, which an older
// firmware may not have (the ISO 15118 ones only while a vehicle is
// connected).
func Read(ctx context.Context, dial Dialer, addr string, unit uint8) (*collector.FullState, error) {
	s, err := open(ctx, dial, addr, unit)
	if err != nil {
		return nil, err
	}
	defer s.close()
	im := &Image{}
	fw := Block{Addr: 100, Count: 2}
	w, err := s.read(fw)
	if err != nil {
		return nil, err
	}
	im.Add(fw.Addr, w)
	set := setOf(w)
	if set == 0 {
		// A version string the exporter cannot read: ask the register set
		// itself, as integrators do (the model block exists from 5.22 on).
		_, err := s.read(Block{Addr: 142, Count: 1})
		switch {
		case err == nil:
			set = Set522
		case errors.Is(err, mb.ErrIllegalDataAddress):
			set = Set512
		default:
			return nil, err
		}
	}
	for _, b := range Plan(set, Base) {
		if b.Addr == fw.Addr {
			b = Block{Addr: fw.Addr + fw.Count, Count: b.Count - fw.Count}
			if b.Count == 0 {
				continue
			}
		}
		w, err := s.read(b)
		if err != nil {
			return nil, err
		}
		im.Add(b.Addr, w)
	}
	if mode, _ := im.Word(600); mode == 1 || mode == 2 {
		for _, b := range Plan(set, DLM) {
			w, err := s.read(b)
			if err != nil {
				return nil, err
			}
			im.Add(b.Addr, w)
		}
	}
	cp, _ := im.Word(122)
	vehicle := cp >= 2 && cp <= 4 // control pilot B, C or D
	for _, b := range Plan(set, Optional) {
		if b.WhileVehicle && !vehicle {
			continue
		}
		w, err := s.read(b)
		if errors.Is(err, ErrException) {
			continue // not on this firmware
		}
		if err != nil {
			return nil, err
		}
		im.Add(b.Addr, w)
	}
	return Decode(set, im), nil
}

// setOf tells the register set from the firmware version ("5.22"); 0 when
// the version cannot be read.
func setOf(w []uint16) Set {
	v, err := ascii(w)
	if err != nil {
		return 0
	}
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
		return 0
	}
	if major > 5 || major == 5 && minor >= 22 {
		return Set522
	}
	return Set512
}
