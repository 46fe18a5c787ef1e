package modbus

import (
	"math"
	"strings"
	"testing"

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
