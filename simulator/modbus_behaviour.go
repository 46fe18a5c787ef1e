package simulator

import (
	"fmt"
	"strings"
	"time"
)

// ModbusBehaviour is how a controller's Modbus TCP server treats what the
// protocol and the register map leave open, and how far away it is. The
// zero value is a server that answers pipelined requests in order, reads 0
// at an address the map does not document, and answers at once.
type ModbusBehaviour struct {
	// Strict: a read that touches an address the register map does not
	// document is answered with exception 02 (illegal data address), as a
	// read of a register the firmware lacks always is.
	Strict bool
	// OneAtATime: the server takes one request at a time and drops what
	// arrives while it answers one (no pipelining; ServeModbus only).
	OneAtATime bool
	// Latency is the round trip to the controller: each reply leaves this
	// long after its request arrived, so that the replies to requests sent
	// together leave together (ServeModbus only).
	Latency time.Duration
}

// needsRelay says whether the behaviour needs the simulator's relay in
// front of the library's server (ServeModbus).
func (b ModbusBehaviour) needsRelay() bool { return b.OneAtATime || b.Latency > 0 }

func (b ModbusBehaviour) String() string {
	var parts []string
	if b.Strict {
		parts = append(parts, "strict")
	}
	if b.OneAtATime {
		parts = append(parts, "one-at-a-time")
	}
	if b.Latency > 0 {
		parts = append(parts, "latency:"+b.Latency.String())
	}
	if len(parts) == 0 {
		return "lenient, pipelining"
	}
	return strings.Join(parts, ",")
}

// ParseModbusBehaviour reads "strict,one-at-a-time,latency:300ms" (any of
// the three, comma-separated; "" is the zero value).
func ParseModbusBehaviour(s string) (ModbusBehaviour, error) {
	var b ModbusBehaviour
	for p := range strings.SplitSeq(s, ",") {
		switch name, arg, _ := strings.Cut(strings.TrimSpace(p), ":"); name {
		case "":
		case "strict":
			b.Strict = true
		case "one-at-a-time":
			b.OneAtATime = true
		case "latency":
			d, err := time.ParseDuration(arg)
			if err != nil || d <= 0 {
				return b, fmt.Errorf("latency needs a duration, as in latency:300ms")
			}
			b.Latency = d
		default:
			return b, fmt.Errorf("unknown Modbus behaviour %q: want strict, one-at-a-time or latency:<duration>", name)
		}
	}
	return b, nil
}

// modbusBehaviour is controller id's: its own (Options.ModbusOf), else
// the fleet's (Options.Modbus).
func (f *Fleet) modbusBehaviour(id int) ModbusBehaviour {
	if b, ok := f.opts.ModbusOf[id]; ok {
		return b
	}
	return f.opts.Modbus
}

// documented are the addresses of the manufacturer's register map (rev.
// 1.07, the integrators' 140, 730 and 740, the 5.32 documentation's 133):
// a controller that does not have one of them (a register of the other
// register set, a DLM register on a controller that is no master) answers
// a read of it with an exception; the other addresses, which the map does
// not document, read 0 unless the server is strict.
var documented = func() map[uint16]bool {
	m := map[uint16]bool{}
	for _, r := range [][2]uint16{{100, 101}, {104, 112}, {120, 122}, {124, 124}, {130, 134}, {140, 140}, {142, 152},
		{200, 227}, {600, 600}, {610, 615}, {620, 621}, {630, 635}, {700, 730}, {740, 746}, {1000, 1000}, {1110, 1119}} {
		for a := r[0]; a <= r[1]; a++ {
			m[a] = true
		}
	}
	return m
}()
