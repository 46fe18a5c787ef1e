// Package modbustest starts fake Modbus TCP servers on real loopback
// listeners for the failure tests: servers that hang, answer garbage, cut
// or stretch a frame, or answer for another transaction or unit. The frames
// are built by hand on purpose: no library would send them.
package modbustest

import (
	"io"
	"net"
	"testing"

	"github.com/bender-cc/bender_cc_exporter/internal/loopback"
	"github.com/bender-cc/bender_cc_exporter/simulator"
)

// Serve serves each connection with fn on a listener of 127.0.0.1 and
// returns its host:port; the listener closes with the test.
func Serve(t testing.TB, fn func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { _ = c.Close() }()
				fn(c)
			}()
		}
	}()
	return l.Addr().String()
}

// ReplyTo reads request frames and answers each with reply(MBAP header,
// PDU); a nil answer hangs up.
func ReplyTo(reply func(hdr, pdu []byte) []byte) func(net.Conn) {
	return func(c net.Conn) {
		for {
			hdr := make([]byte, 7)
			if _, err := io.ReadFull(c, hdr); err != nil {
				return
			}
			pdu := make([]byte, int(hdr[5])-1)
			if _, err := io.ReadFull(c, pdu); err != nil {
				return
			}
			out := reply(hdr, pdu)
			if out == nil {
				return
			}
			_, _ = c.Write(out)
		}
	}
}

// Frame is a valid answer to a read of holding registers: every pair of
// registers reads "5.22".
func Frame(hdr, pdu []byte) []byte {
	n := int(pdu[3])<<8 | int(pdu[4])
	body := []byte{3, byte(2 * n)}
	for i := range n {
		body = append(body, "5.22"[2*(i%2)], "5.22"[2*(i%2)+1])
	}
	out := append(append([]byte{}, hdr[:4]...), byte((len(body)+1)>>8), byte(len(body)+1), hdr[6])
	return append(out, body...)
}

// HTTP answers the first bytes with an HTTP error, as embedded web servers
// answer what they cannot parse.
func HTTP(c net.Conn) {
	_, _ = c.Read(make([]byte, 12))
	_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
}

// Garbage answers every request with bytes whose protocol identifier is not 0.
var Garbage = ReplyTo(func(_, _ []byte) []byte { return []byte("\xde\xad\xbe\xef\x00\x05\x01\x03\x02\x00\x00") })

// WrongTransaction answers for the next transaction id.
var WrongTransaction = ReplyTo(func(h, p []byte) []byte { f := Frame(h, p); f[1]++; return f })

// WrongUnit answers from another unit id.
var WrongUnit = ReplyTo(func(h, p []byte) []byte { f := Frame(h, p); f[6]++; return f })

// Oversized announces a frame longer than Modbus TCP allows.
var Oversized = ReplyTo(func(h, p []byte) []byte { f := Frame(h, p); f[4], f[5] = 1, 0x10; return f })

// CutOff sends the first 9 bytes of the answer and hangs up.
func CutOff(c net.Conn) {
	ReplyTo(func(h, p []byte) []byte { _, _ = c.Write(Frame(h, p)[:9]); return nil })(c)
}

// Silent accepts and reads, and never answers.
func Silent(c net.Conn) { _, _ = io.Copy(io.Discard, c) }

// Site starts a simulated fleet with each controller's Modbus TCP server on
// a free loopback port: addrs[i] and servers[i] are controller i's (index 0
// unused). Everything stops with the test.
func Site(t testing.TB, o simulator.Options) (f *simulator.Fleet, addrs []string, servers []*simulator.ModbusServer) {
	t.Helper()
	return site(t, o, (*simulator.Fleet).ServeModbus)
}

// SiteDirect is Site without the simulator's relay in front of each server
// (no modbus_cut fault; for benchmarks, where the relay would be measured).
func SiteDirect(t testing.TB, o simulator.Options) (f *simulator.Fleet, addrs []string, servers []*simulator.ModbusServer) {
	t.Helper()
	return site(t, o, (*simulator.Fleet).ServeModbusDirect)
}

func site(t testing.TB, o simulator.Options, serve func(*simulator.Fleet, int, string) (*simulator.ModbusServer, error)) (f *simulator.Fleet, addrs []string, servers []*simulator.ModbusServer) {
	t.Helper()
	f, err := simulator.NewFleet(o)
	if err != nil {
		t.Fatal(err)
	}
	addrs, servers = []string{""}, []*simulator.ModbusServer{nil}
	for id := 1; id <= f.Len(); id++ {
		addr, err := loopback.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		srv, err := serve(f, id, addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Stop() })
		addrs, servers = append(addrs, addr), append(servers, srv)
	}
	return f, addrs, servers
}
