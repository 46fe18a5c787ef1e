package modbus

import (
	"context"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bender-cc/bender_cc_exporter/collector"
)

// FuzzDecode feeds arbitrary register contents (two bytes a register, the
// blocks of a register set in plan order) to Decode: it must not panic,
// and what it returns must be exportable (finite numbers, short printable
// labels, never a 0xFFFFFFFF reading).
func FuzzDecode(f *testing.F) {
	f.Add(false, []byte("5.22\x00\x06\x41\x00"))
	f.Add(true, []byte("5.12"))
	f.Add(false, make([]byte, 600))
	seed := make([]byte, 600)
	for i := range seed {
		seed[i] = 0xff
	}
	f.Add(false, seed)
	f.Fuzz(func(t *testing.T, old bool, data []byte) {
		set := Set522
		if old {
			set = Set512
		}
		im := &Image{}
		for _, g := range []Group{Base, DLM, Optional} {
			for _, b := range Plan(set, g) {
				if len(data) < 2*int(b.Count) {
					break
				}
				w := make([]uint16, b.Count)
				for i := range w {
					w[i] = uint16(data[2*i])<<8 | uint16(data[2*i+1])
				}
				data = data[2*b.Count:]
				im.Add(b.Addr, w)
			}
		}
		st := Decode(set, im)
		for _, v := range st.Values {
			if v.Spec == nil {
				t.Fatal("value without a spec")
			}
			// A sum of phase registers (5.12's power: "a+b+c" in the field)
			// can add up to 0xFFFFFFFF without any register being the
			// sentinel; a reading of one register never may.
			summed := strings.Contains(v.Field.Value, "+")
			for _, n := range v.Numbers {
				if math.IsNaN(n.Value) || math.IsInf(n.Value, 0) || !summed && (n.Value == 0xFFFFFFFF || n.Value == 0xFFFFFFFF*3600) {
					t.Fatalf("%s: %v", v.Spec.Key, n.Value)
				}
				if v.Spec.Kind == collector.List && n.Index >= len(v.Spec.ListValues) {
					t.Fatalf("%s: index %d", v.Spec.Key, n.Index)
				}
			}
			if len(v.Field.Value) > maxLabel {
				t.Fatalf("%s: label of %d bytes", v.Spec.Key, len(v.Field.Value))
			}
			for _, c := range v.Codes {
				if c == "" {
					t.Fatal("empty error code")
				}
			}
		}
	})
}

// FuzzReplies answers a probe's requests with arbitrary bytes (then closes
// the connection): Read must return, with an error or with values, never
// panic, and what it sent must be reads of holding registers that stay
// clear of personal data, however the replies went.
func FuzzReplies(f *testing.F) {
	ok := func(tid byte, words ...byte) []byte {
		return append([]byte{0, tid, 0, 0, 0, byte(3 + len(words)), 255, 3, byte(len(words))}, words...)
	}
	f.Add(ok(1, '5', '.', '2', '2'))
	f.Add(append(ok(1, '5', '.', '1', '2'), 0, 2, 0, 0, 0, 3, 255, 0x83, 2))
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
	f.Add(append(ok(1, '5', '.', '3', '3'), ok(9, 0, 0)...))
	f.Fuzz(func(t *testing.T, replies []byte) {
		client, server := net.Pipe()
		var sent []byte
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 4096)
			for {
				n, err := server.Read(buf)
				sent = append(sent, buf[:n]...)
				if err != nil {
					return
				}
			}
		}()
		go func() { _, _ = server.Write(replies); _ = server.Close() }()
		dial := func(context.Context, string, string) (net.Conn, error) { return client, nil }
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, _ = (&Client{Memory: NewMemory(4, time.Hour, nil)}).Read(ctx, dial, "fuzz:502", 255)
		<-done
		for len(sent) >= 12 {
			fc, addr, n := sent[7], uint16(sent[8])<<8|uint16(sent[9]), uint16(sent[10])<<8|uint16(sent[11])
			if fc != 3 || sent[5] != 6 || touchesPersonal(addr, n) {
				t.Fatalf("sent % x", sent[:12])
			}
			sent = sent[12:]
		}
	})
}
