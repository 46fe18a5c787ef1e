package simulator

import (
	"errors"
	"io"
	"log"
	"net"
	"testing"
	"time"

	mb "github.com/simonvetter/modbus"

	"github.com/bender-cc/bender_cc_exporter/internal/loopback"
)

func TestParseModbusBehaviour(t *testing.T) {
	for in, want := range map[string]ModbusBehaviour{
		"":                                  {},
		"strict":                            {Strict: true},
		"one-at-a-time, latency:300ms":      {OneAtATime: true, Latency: 300 * time.Millisecond},
		"strict,one-at-a-time,latency:50ms": {Strict: true, OneAtATime: true, Latency: 50 * time.Millisecond},
	} {
		if got, err := ParseModbusBehaviour(in); err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"lenient", "latency", "latency:-1s", "strict,fast"} {
		if _, err := ParseModbusBehaviour(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

// serveBehaving starts a fleet of two (a DLM master and its slave) whose
// Modbus servers behave as b, behind the relay.
func serveBehaving(t *testing.T, b ModbusBehaviour) []string {
	t.Helper()
	f, err := NewFleet(Options{Controllers: 2, Seed: 1, Firmware: "5.33", DLMSiteSize: 2, Modbus: b})
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for id := 1; id <= 2; id++ {
		addr, err := loopback.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		srv, err := f.ServeModbus(id, addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Stop() })
		addrs = append(addrs, addr)
	}
	return addrs
}

// TestModbusGaps: an address the register map does not document reads 0,
// or, on a strict server, fails the read with exception 02; a register the
// controller lacks (the DLM registers on a slave) always fails it.
func TestModbusGaps(t *testing.T) {
	for _, strict := range []bool{false, true} {
		addrs := serveBehaving(t, ModbusBehaviour{Strict: strict})
		read := func(addr string, from, n uint16) ([]uint16, error) {
			c, err := mb.NewClient(&mb.ClientConfiguration{URL: "tcp://" + addr, Timeout: time.Second, Logger: log.New(io.Discard, "", 0)})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Open(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = c.Close() }()
			_ = c.SetUnitId(255)
			return c.ReadRegisters(from, n, mb.HOLDING_REGISTER)
		}
		w, err := read(addrs[0], 104, 29) // 113-119, 123, 125-129 undocumented
		if strict != errors.Is(err, mb.ErrIllegalDataAddress) || !strict && (err != nil || w[113-104] != 0 || w[131-104] != 6) {
			t.Errorf("strict %v: the read of 104-132: %v, %v", strict, w, err)
		}
		if _, err := read(addrs[0], 610, 26); strict != (err != nil) {
			t.Errorf("strict %v: the master's 610-635: %v", strict, err)
		}
		if _, err := read(addrs[1], 610, 6); !errors.Is(err, mb.ErrIllegalDataAddress) {
			t.Errorf("strict %v: a slave's 610-615: %v", strict, err)
		}
	}
}

// TestModbusPipelining: two requests sent at once get two replies, in
// order; a one-at-a-time server answers the first and drops the second,
// and still answers a request sent after that reply.
func TestModbusPipelining(t *testing.T) {
	frame := func(tid byte, addr uint16) []byte {
		return []byte{0, tid, 0, 0, 0, 6, 255, 3, byte(addr >> 8), byte(addr), 0, 1}
	}
	for _, oneAtATime := range []bool{false, true} {
		addrs := serveBehaving(t, ModbusBehaviour{OneAtATime: oneAtATime})
		c, err := net.Dial("tcp", addrs[0])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if _, err := c.Write(append(frame(1, 104), frame(2, 122)...)); err != nil {
			t.Fatal(err)
		}
		var tids []byte
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		for {
			reply := make([]byte, 11)
			if _, err := io.ReadFull(c, reply); err != nil {
				break
			}
			tids = append(tids, reply[1])
		}
		if want := map[bool]string{false: "\x01\x02", true: "\x01"}[oneAtATime]; string(tids) != want {
			t.Errorf("one at a time %v: replies to %v, want %v", oneAtATime, tids, []byte(want))
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Write(frame(3, 104)); err != nil {
			t.Fatal(err)
		}
		reply := make([]byte, 11)
		if _, err := io.ReadFull(c, reply); err != nil || reply[1] != 3 {
			t.Errorf("one at a time %v: the next request: %v %v", oneAtATime, reply, err)
		}
	}
}
