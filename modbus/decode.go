package modbus

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/bender-cc/bender_cc_exporter/collector"
)

// Image is what one probe read: the words of each block that answered.
type Image struct {
	blocks []imageBlock
}

type imageBlock struct {
	addr  uint16
	words []uint16
}

// Add records the words a read from addr returned.
func (im *Image) Add(addr uint16, words []uint16) {
	im.blocks = append(im.blocks, imageBlock{addr, words})
}

// words returns n words from addr, if one read covered them all.
func (im *Image) words(addr, n uint16) ([]uint16, bool) {
	for _, b := range im.blocks {
		if addr >= b.addr && int(addr-b.addr)+int(n) <= len(b.words) {
			return b.words[addr-b.addr : addr-b.addr+n], true
		}
	}
	return nil, false
}

// Word returns one register, if it was read.
func (im *Image) Word(addr uint16) (uint16, bool) {
	w, ok := im.words(addr, 1)
	if !ok {
		return 0, false
	}
	return w[0], true
}

// noValue is what a 32-bit meter register holds when there is no reading
// (no meter, a phase a single-phase meter lacks, or a transient gap).
const noValue = 0xFFFFFFFF

// maxLabel bounds what a string register can put into a label.
const maxLabel = 128

// Decode turns the registers of one probe into the state the REST parser
// produces: the same keys for the quantities full_state carries too, the
// Modbus-only rows for the rest. A register that did not answer exports
// nothing; a value that cannot be decoded is listed in Invalid.
func Decode(set Set, im *Image) *collector.FullState {
	st := &collector.FullState{Values: make([]collector.Value, 0, 48)}
	byKey := make([]int, len(rowKeys.specs)) // key → 1 + its index in st.Values
	direct := rowKeys.direct[set]
	for i := range Registers {
		r := &Registers[i]
		if r.Sets&set == 0 || r.Type == Unused || (r.Fallback && direct[rowKeys.of[i]]) {
			continue
		}
		spec := rowKeys.specs[rowKeys.of[i]]
		w, ok := im.words(r.Addr, r.words())
		if !ok || spec == nil {
			continue
		}
		if r.Needs != 0 {
			if n, ok := im.Word(r.Needs); !ok || n != 1 {
				continue
			}
		}
		field := collector.Field{Key: spec.Key, Line: int(r.Addr)}
		var (
			x     float64
			codes []string
			err   error
		)
		switch r.Type {
		case U16:
			x = float64(w[0])
			if r.Invert {
				x = float64(1 - min(w[0], 1))
			}
		case U32:
			v := uint32(w[0])<<16 | uint32(w[1])
			if v == noValue {
				continue
			}
			x = float64(v)
		case ASCII:
			field.Value, err = ascii(w)
		case ErrorMask:
			codes = ErrorCodes(errorBits(w[6], w[7]))
		}
		if err != nil {
			st.Invalid = append(st.Invalid, collector.Invalid{Field: field, Reason: fmt.Sprintf("register %d: %v", r.Addr, err)})
			continue
		}
		if (spec.Kind == collector.Number || spec.Kind == collector.List) && spec.Sentinel.Is(x) {
			continue // the key's "no value", as in full_state: 705 and 709 saturated at 0xFFFF
		}
		raw := strconv.FormatFloat(x, 'f', -1, 64) // as the register holds it, for the debug view
		if r.Scale != 0 {
			x = scale(x, r.Scale)
		}
		k := rowKeys.of[i]
		i, seen := byKey[k]-1, byKey[k] > 0
		switch {
		case seen && r.Sum:
			st.Values[i].Numbers[0].Value += x
			st.Values[i].Field.Value += "+" + raw
			continue
		case seen && spec.Kind == collector.List:
			st.Values[i].Numbers = append(st.Values[i].Numbers, collector.Reading{Index: r.Index, Value: x})
			continue
		case seen:
			continue // the second row of register 124
		}
		v := collector.Value{Spec: spec, Field: field, Codes: codes}
		switch spec.Kind {
		case collector.StateSet:
			v.Field.Value = stateName(r, w[0])
		case collector.Bool:
			if x > 1 {
				st.Invalid = append(st.Invalid, collector.Invalid{Field: field, Reason: fmt.Sprintf("register %d: %d is neither 0 nor 1", r.Addr, w[0])})
				continue
			}
			v.Field.Value = strconv.Itoa(int(x))
			v.Numbers = []collector.Reading{{Value: x}}
		case collector.Number, collector.List:
			v.Field.Value = raw
			v.Numbers = []collector.Reading{{Index: r.Index, Value: x}}
		}
		if spec.Kind == collector.Info && v.Field.Value == "" {
			continue
		}
		byKey[k] = len(st.Values) + 1
		st.Values = append(st.Values, v)
	}
	for i := range st.Values {
		// A meter that reads 0 is no reading, as in full_state (see
		// collector.KeySpec.ZeroIsNoValue); the sum of 5.12's phase
		// registers too.
		if v := &st.Values[i]; v.Spec.ZeroIsNoValue && len(v.Numbers) == 1 && v.Numbers[0].Value == 0 {
			v.Numbers = nil
		}
	}
	if _, ok := im.words(100, 1); ok {
		st.Values = append(st.Values, collector.Value{Spec: specRegisterSet, Field: collector.Field{Key: specRegisterSet.Key, Value: set.String(), Line: 100}})
	}
	return st
}

var specRegisterSet, _ = collector.Lookup("modbus_register_set")

// rowKeys numbers the keys of the table once, so that Decode keeps no map:
// of[i] is the number of Registers[i]'s key (0 for none), specs[n] its row
// in collector.Keys (nil for none), and direct[set][n] says whether the set
// has a row for key n that is not a Fallback.
var rowKeys = func() (k struct {
	of     []int
	specs  []*collector.KeySpec
	direct map[Set][]bool
}) {
	number := map[string]int{"": 0}
	k.specs = []*collector.KeySpec{nil}
	for _, r := range Registers {
		n, ok := number[r.Key]
		if !ok {
			n = len(k.specs)
			number[r.Key] = n
			k.specs = append(k.specs, specs[r.Key])
		}
		k.of = append(k.of, n)
	}
	k.direct = map[Set][]bool{}
	for _, set := range []Set{Set512, Set522} {
		d := make([]bool, len(k.specs))
		for i, r := range Registers {
			if r.Sets&set != 0 && !r.Fallback && r.Key != "" {
				d[k.of[i]] = true
			}
		}
		k.direct[set] = d
	}
	return k
}()

// scale multiplies by a table's scale; milli and centi units shift the
// decimal point so that 12340 mA is 12.34 A, not 12.340000000000002.
func scale(x, s float64) float64 {
	switch s {
	case 0.001:
		return collector.Milliampere.ToBase(x)
	case 0.01:
		y, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', -1, 64)+"e-2", 64)
		return y
	}
	return x * s
}

func stateName(r *Register, raw uint16) string {
	if i := int(raw) - int(r.First); i >= 0 && i < len(r.States) && r.States[i] != "" {
		return r.States[i]
	}
	return strconv.Itoa(int(raw))
}

// ascii decodes a string register block: two characters per word, high
// byte first, padded with spaces or NULs.
func ascii(w []uint16) (string, error) {
	b := make([]byte, 0, 2*len(w))
	for _, x := range w {
		b = append(b, byte(x>>8), byte(x))
	}
	s := strings.Trim(string(b), " \x00")
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return "", fmt.Errorf("not printable ASCII: %q", s)
		}
	}
	if len(s) > maxLabel {
		s = s[:maxLabel]
	}
	return s, nil
}

// errorBits decodes ERROR_CODES from registers 111 and 112 as the
// specification's own example has it: 111-112 = 4100 0000 → swap the words
// (0000 4100) → swap the bytes of each (0000 0041) → bits 0 and 6.
func errorBits(r111, r112 uint16) uint32 {
	swap := func(x uint16) uint32 { return uint32(x>>8 | x<<8) }
	return swap(r112)<<16 | swap(r111)
}

// ErrorNames are the codes of the error bits (bit 0 first): the full_state
// error code where one means the same, otherwise the specification's name in
// lower case without ERR_.
var ErrorNames = []string{
	"rcmb_triggered", "vehicle_state_e", "mode3_diode_check", "mcb_type2_triggered", "mcb_schuko_triggered",
	"rcd_triggered", "contactor_weld", "backend_disconnected", "plug_locking_failed",
	"actuator_locking_without_plug_failed", "actuator_stuck", "actuator_detection_failed", "fw_update_running",
	"tilt", "wrong_cp_pr_wiring", "type2_overload_thr_2", "actuator_unlocked_while_charging",
	"tilt_prevent_charging_until_reboot", "pic24", "usb_stick_handling", "incorrect_phase_installation", "no_power",
}

// ErrorCodes names the set bits of an error mask; a bit the specification
// does not define is still exported, as error_bit_<n>.
func ErrorCodes(mask uint32) []string {
	var codes []string
	for b := range 32 {
		if mask&(1<<b) == 0 {
			continue
		}
		if b < len(ErrorNames) {
			codes = append(codes, ErrorNames[b])
		} else {
			codes = append(codes, "error_bit_"+strconv.Itoa(b))
		}
	}
	return codes
}
