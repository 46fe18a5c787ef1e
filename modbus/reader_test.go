package modbus

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bender-cc/bender_cc_exporter/collector"
	"github.com/bender-cc/bender_cc_exporter/internal/loopback"
	"github.com/bender-cc/bender_cc_exporter/internal/modbustest"
	"github.com/bender-cc/bender_cc_exporter/simulator"
)

var dialer = (&net.Dialer{}).DialContext

// fleet starts a simulated site: controller 1 a DLM master of 2-4 on
// firmware 5.33, controller 3 on 5.12, each with its Modbus server.
func fleet(t testing.TB, now time.Time) (*simulator.Fleet, []string, []*simulator.ModbusServer) {
	t.Helper()
	return modbustest.Site(t, simulator.Options{Controllers: 4, Seed: 7, Firmware: "5.33", FirmwareOf: map[int]string{3: "5.12"},
		DLMSiteSize: 4, Start: now.Add(-time.Hour), Now: func() time.Time { return now }})
}

func probeCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// recorder is a TCP proxy in front of a Modbus server that records the
// function code and address of every request frame on the wire, and the
// most requests that were on their way at once (sent, not yet answered).
type recorder struct {
	mu    sync.Mutex
	codes []byte
	addrs []uint16
	conns int
	most  int // the most requests of one connection on their way at once
}

func record(t testing.TB, upstream string) (string, *recorder) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	rec := &recorder{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			rec.mu.Lock()
			rec.conns++
			rec.mu.Unlock()
			go rec.pass(c, upstream)
		}
	}()
	return l.Addr().String(), rec
}

// pass relays one connection, passing on what it reads at once (a burst
// stays one write), and parses the frames it passes.
func (rec *recorder) pass(c net.Conn, upstream string) {
	defer func() { _ = c.Close() }()
	up, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer func() { _ = up.Close() }()
	inFlight := 0 // of this connection, under rec.mu
	go func() {
		defer func() { _ = c.Close() }()
		copyFrames(c, up, func([]byte) {
			rec.mu.Lock()
			inFlight--
			rec.mu.Unlock()
		})
	}()
	copyFrames(up, c, func(frame []byte) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.codes = append(rec.codes, frame[7])
		if len(frame) >= 10 {
			rec.addrs = append(rec.addrs, uint16(frame[8])<<8|uint16(frame[9]))
		}
		inFlight++
		rec.most = max(rec.most, inFlight)
	})
}

// copyFrames copies src to dst as it reads it, calling each for every
// whole Modbus TCP frame that has passed (before passing the bytes on).
func copyFrames(dst, src net.Conn, each func(frame []byte)) {
	buf, pending := make([]byte, 4096), []byte(nil)
	for {
		n, err := src.Read(buf)
		pending = append(pending, buf[:n]...)
		for len(pending) >= 7 {
			size := 6 + (int(pending[4])<<8 | int(pending[5]))
			if len(pending) < size {
				break
			}
			each(pending[:size])
			pending = pending[size:]
		}
		if _, werr := dst.Write(buf[:n]); werr != nil || err != nil {
			return
		}
	}
}

// reads returns what the recorder saw: requests, connections and the most
// in flight at once.
func (rec *recorder) reads() (requests, conns, most int) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.codes), rec.conns, rec.most
}

// TestReadSimulatedSite: one probe of each kind of controller is the
// version's read, then the rest of the coalesced plan in one burst (the DLM
// and vehicle reads included, whether they apply or not), only function
// code 03, never a personal register, over one connection.
func TestReadSimulatedSite(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	_, addrs, servers := fleet(t, now)
	for id, want := range map[int]struct {
		set   string
		reads int
	}{1: {"5.22", 8}, 2: {"5.22", 8}, 3: {"5.12", 9}} {
		addr, rec := record(t, addrs[id])
		cl := &Client{Memory: NewMemory(10, time.Hour, nil)}
		st, err := cl.Read(probeCtx(t), dialer, addr, 255)
		if err != nil {
			t.Fatalf("controller %d: %v", id, err)
		}
		v := values(st)
		if got := v["modbus_register_set"].Field.Value; got != want.set {
			t.Errorf("controller %d: register set %q, want %q", id, got, want.set)
		}
		if n, conns, most := rec.reads(); n != want.reads || conns != 1 || most != want.reads-1 {
			t.Errorf("controller %d: %d reads over %d connections, %d at once; want %d over 1, %d at once", id, n, conns, most, want.reads, want.reads-1)
		}
		rec.mu.Lock()
		for i, fc := range rec.codes {
			if fc != 3 {
				t.Errorf("controller %d: request %d has function code %d", id, i, fc)
			}
		}
		for _, a := range rec.addrs {
			if touchesPersonal(a, 1) {
				t.Errorf("read from %d", a)
			}
		}
		rec.mu.Unlock()
		if _, dlm := v["modbus_dlm_slaves"]; dlm != (id == 1) {
			t.Errorf("controller %d: DLM registers read: %v", id, dlm)
		}
		cp := v["type2_state"].Field.Value
		if _, iso := v["modbus_iso15118"]; iso != (cp == "b" || cp == "c" || cp == "d") {
			t.Errorf("controller %d: vehicle registers with type 2 state %s: %v", id, cp, iso)
		}
		for k, want := range map[string]float64{"modbus_requests": float64(want.reads), "modbus_pipelined": 1, "modbus_split_reads": 0} {
			if n := v[k].Numbers; len(n) != 1 || n[0].Value != want {
				t.Errorf("controller %d: %s = %v, want %v", id, k, n, want)
			}
		}
	}
	for id := 1; id <= 3; id++ {
		for _, fc := range servers[id].FunctionCodes() {
			if fc != 3 {
				t.Errorf("controller %d received function code %d", id, fc)
			}
		}
	}
}

func TestFailures(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	f, addrs, _ := fleet(t, now)
	f.SetFault(4, &simulator.FaultSpec{Mode: simulator.ModbusException})
	refused, _ := loopback.FreeAddr()
	http502 := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(http502.Close)
	for _, tt := range []struct {
		name, addr string
		want       error
		msg        string
	}{
		{"refused", refused, nil, "connection refused"},
		{"hang", modbustest.Serve(t, modbustest.Silent), collector.ErrTimeout, "no Modbus reply"},
		{"exception", addrs[4], ErrException, "Register Address Set"},
		// An HTTP server that answers what it cannot parse, as embedded ones do.
		{"http", modbustest.Serve(t, modbustest.HTTP), ErrNotModbus, "an HTTP server"},
		// Go's waits for the end of a request line that never comes.
		{"http that waits", strings.TrimPrefix(http502.URL, "http://"), collector.ErrTimeout, "no Modbus reply"},
		{"garbage", modbustest.Serve(t, modbustest.Garbage), ErrNotModbus, "protocol identifier"},
		{"transaction id", modbustest.Serve(t, modbustest.WrongTransaction), ErrWrongID, "transaction id"},
		{"unit id", modbustest.Serve(t, modbustest.WrongUnit), ErrWrongID, "unit_id"},
		{"truncated", modbustest.Serve(t, modbustest.ReplyTo(func(h, p []byte) []byte { f := modbustest.Frame(h, p); return f[:len(f)-1] })), collector.ErrTimeout, ""},
		{"cut and closed", modbustest.Serve(t, modbustest.CutOff), ErrBadFrame, "cut off after 9 bytes"},
		{"oversized", modbustest.Serve(t, modbustest.Oversized), ErrBadFrame, "length"},
		{"closed", modbustest.Serve(t, func(c net.Conn) { _, _ = c.Read(make([]byte, 12)) }), io.EOF, "without a reply"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := Read(ctx, dialer, tt.addr, 255)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}
