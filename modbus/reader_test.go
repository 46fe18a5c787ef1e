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
// function code of every request frame on the wire.
type recorder struct {
	mu    sync.Mutex
	codes []byte
	addrs []uint16
	conns int
}

func record(t *testing.T, upstream string) (string, *recorder) {
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
			go func() {
				defer func() { _ = c.Close() }()
				up, err := net.Dial("tcp", upstream)
				if err != nil {
					return
				}
				defer func() { _ = up.Close() }()
				go func() { _, _ = io.Copy(c, up) }()
				for {
					hdr := make([]byte, 7)
					if _, err := io.ReadFull(c, hdr); err != nil {
						return
					}
					pdu := make([]byte, int(hdr[4])<<8|int(hdr[5])-1)
					if _, err := io.ReadFull(c, pdu); err != nil {
						return
					}
					rec.mu.Lock()
					rec.codes = append(rec.codes, pdu[0])
					if len(pdu) >= 3 {
						rec.addrs = append(rec.addrs, uint16(pdu[1])<<8|uint16(pdu[2]))
					}
					rec.mu.Unlock()
					_, _ = up.Write(append(hdr, pdu...))
				}
			}()
		}
	}()
	return l.Addr().String(), rec
}

func TestReadSimulatedSite(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	_, addrs, servers := fleet(t, now)
	// Reads with a vehicle connected; without one the two ISO 15118 reads
	// (730, 740) are left out.
	for id, want := range map[int]struct {
		set    string
		blocks int
	}{1: {"5.22", 17}, 2: {"5.22", 14}, 3: {"5.12", 12}} {
		addr, rec := record(t, addrs[id])
		st, err := Read(probeCtx(t), dialer, addr, 255)
		if err != nil {
			t.Fatalf("controller %d: %v", id, err)
		}
		v := values(st)
		if got := v["modbus_register_set"].Field.Value; got != want.set {
			t.Errorf("controller %d: register set %q, want %q", id, got, want.set)
		}
		if cp := v["type2_state"].Field.Value; cp != "b" && cp != "c" && cp != "d" {
			want.blocks -= 2
		}
		rec.mu.Lock()
		if len(rec.codes) != want.blocks || rec.conns != 1 {
			t.Errorf("controller %d: %d reads over %d connections, want %d over 1", id, len(rec.codes), rec.conns, want.blocks)
		}
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
		_, dlm := v["modbus_dlm_slaves"]
		if dlm != (id == 1) {
			t.Errorf("controller %d: DLM registers read: %v", id, dlm)
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
