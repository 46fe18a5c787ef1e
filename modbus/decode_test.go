package modbus

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bender-cc/bender_cc_exporter/collector"
)

// The specification's own example: 111-112 read as 4100 0000 mean bits 0
// and 6 (residual current and a welded contactor).
func TestErrorMaskSpecExample(t *testing.T) {
	mask := errorBits(0x4100, 0x0000)
	if mask != 0x41 {
		t.Fatalf("errorBits(4100, 0000) = %#x, want 0x41", mask)
	}
	if got := ErrorCodes(mask); !slices.Equal(got, []string{"rcmb_triggered", "contactor_weld"}) {
		t.Errorf("codes = %v", got)
	}
	// Bit 21 (no power) lives in the high word, low byte first: 112 = 2000.
	if got := ErrorCodes(errorBits(0, 0x2000)); !slices.Equal(got, []string{"no_power"}) {
		t.Errorf("bit 21: %v", got)
	}
	if got := ErrorCodes(errorBits(0, 0x0040)); !slices.Equal(got, []string{"error_bit_30"}) {
		t.Errorf("undefined bit: %v", got)
	}
	if len(ErrorNames) != 22 {
		t.Errorf("%d error names, the specification defines bits 0-21", len(ErrorNames))
	}
}

func TestTableIsSortedAndKnown(t *testing.T) {
	for i, r := range Registers {
		if i > 0 && r.Addr < Registers[i-1].Addr {
			t.Errorf("register %d after %d: the table must be in address order", r.Addr, Registers[i-1].Addr)
		}
		if r.Key != "" && specs[r.Key] == nil {
			t.Errorf("register %d: key %q is not in collector.Keys", r.Addr, r.Key)
		}
		if (r.Key == "") != (r.Type == Unused) {
			t.Errorf("register %d: a key exactly when the register is exported", r.Addr)
		}
	}
}

// Never a read of personal data, in any plan: the blocks of Plan, the
// coalesced reads and their parts; and the client refuses such a read.
func TestNoPersonalRegisters(t *testing.T) {
	for _, set := range []Set{Set512, Set522} {
		var blocks []Block
		for _, g := range []Group{Base, DLM, Optional} {
			blocks = append(blocks, Plan(set, g)...)
		}
		for _, r := range readPlan(set) {
			blocks = append(blocks, r.Block)
			blocks = append(blocks, r.parts...)
		}
		for _, b := range blocks {
			if touchesPersonal(b.Addr, b.Count) {
				t.Errorf("set %v: block %d+%d reads personal data", set, b.Addr, b.Count)
			}
			if b.Count == 0 || b.Count > maxBlock {
				t.Errorf("block %d+%d", b.Addr, b.Count)
			}
		}
	}
	for _, b := range []Block{{Addr: 715, Count: 6}, {Addr: 729, Count: 1}, {Addr: 741, Count: 1}, {Addr: 1105, Count: 10}, {Addr: 0xFFFF, Count: 2}, {Addr: 200, Count: 126}} {
		c := &conn{}
		if err := c.send(b); !errors.Is(err, ErrRefused) {
			t.Errorf("read of %d+%d: %v, want refused", b.Addr, b.Count, err)
		}
	}
}

// TestReadPlan: the coalesced reads of each register set, after the
// version: across undocumented gaps only, never across a register of the
// other set (5.12's 104-132 stops before 5.22's 134), of another condition
// (600 and 700-719 are not joined across the DLM registers) or 133.
func TestReadPlan(t *testing.T) {
	for set, want := range map[Set]string{
		Set522: "104-132 134-227 600 700-719 1000 610-635 730-740",
		Set512: "104-132 140 200-217 600 700-714 1000 610-635 730-740",
	} {
		var got []string
		for _, r := range readPlan(set) {
			got = append(got, blockName(r.Block))
			var parts []Block
			for _, p := range r.parts {
				if p.Addr < r.Addr || p.Addr+p.Count > r.Addr+r.Count {
					t.Errorf("%v: part %s outside its read %s", set, blockName(p), blockName(r.Block))
				}
				parts = append(parts, p)
			}
			if !r.coalesced() && parts[0] != r.Block {
				t.Errorf("%v: read %s is not its only part", set, blockName(r.Block))
			}
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%v: reads %q, want %q", set, strings.Join(got, " "), want)
		}
		// Every block of Plan after the version is the part of one read.
		n := 0
		for _, r := range readPlan(set) {
			n += len(r.parts)
		}
		if all := len(fineBlocks(set)); n != all {
			t.Errorf("%v: %d parts, %d blocks in Plan", set, n, all)
		}
	}
}

func blockName(b Block) string {
	if b.Count == 1 {
		return strconv.Itoa(int(b.Addr))
	}
	return fmt.Sprintf("%d-%d", b.Addr, b.Addr+b.Count-1)
}

func TestPlanBlockCounts(t *testing.T) {
	for _, tt := range []struct {
		set                 Set
		base, dlm, optional int
	}{{Set522, 11, 3, 3}, {Set512, 9, 3, 3}} {
		if n := len(Plan(tt.set, Base)); n != tt.base {
			t.Errorf("%v: %d base blocks, want %d: %v", tt.set, n, tt.base, Plan(tt.set, Base))
		}
		if n := len(Plan(tt.set, DLM)); n != tt.dlm {
			t.Errorf("%v: %d DLM blocks, want %d", tt.set, n, tt.dlm)
		}
		if n := len(Plan(tt.set, Optional)); n != tt.optional {
			t.Errorf("%v: %d optional blocks, want %d", tt.set, n, tt.optional)
		}
	}
}

// image builds an Image from address → word.
func image(regs map[uint16]uint16, set Set, groups ...Group) *Image {
	im := &Image{}
	for _, g := range groups {
		for _, b := range Plan(set, g) {
			w := make([]uint16, b.Count)
			ok := true
			for i := range w {
				v, found := regs[b.Addr+uint16(i)]
				ok = ok && found
				w[i] = v
			}
			if ok {
				im.Add(b.Addr, w)
			}
		}
	}
	return im
}

func values(st *collector.FullState) map[string]collector.Value {
	m := map[string]collector.Value{}
	for _, v := range st.Values {
		m[v.Spec.Key] = v
	}
	return m
}

func fill(regs map[uint16]uint16, from, to uint16) {
	for a := from; a <= to; a++ {
		if _, ok := regs[a]; !ok {
			regs[a] = 0
		}
	}
}

func u32(regs map[uint16]uint16, a uint16, v uint32) { regs[a], regs[a+1] = uint16(v>>16), uint16(v) }

func TestDecodeEveryKind(t *testing.T) {
	regs := map[uint16]uint16{100: 0x352e, 101: 0x3333, 104: 6, 111: 0x4100, 122: 3, 124: 1, 131: 6, 132: 60, 134: 16,
		140: 5, 152: 1, 600: 2, 621: 3, 706: 16, 712: 6, 715: 20, 730: 57, 740: 1, 1000: 10}
	copy := func(a uint16, s string) {
		for i := 0; i < len(s); i += 2 {
			regs[a+uint16(i/2)] = uint16(s[i])<<8 | uint16(s[i+1])
		}
	}
	copy(142, "CC612_2M3PR         ")
	copy(120, "0.9c")
	u32(regs, 212, 12340)
	u32(regs, 214, 0xFFFFFFFF) // single-phase meter: no L2, L3
	u32(regs, 216, 0xFFFFFFFF)
	u32(regs, 218, 73536)
	u32(regs, 220, 0xFFFFFFFF) // the transient of 5.33.9: no value this time
	u32(regs, 222, 231)
	u32(regs, 224, 0xFFFFFFFF)
	u32(regs, 226, 0xFFFFFFFF)
	u32(regs, 716, 5000)
	regs[705] = 4000 // the 16-bit session energy: not used where 716 exists
	u32(regs, 718, 70000)
	regs[709] = 65535
	for _, r := range [][2]uint16{{100, 152}, {200, 227}, {610, 635}, {700, 719}} {
		fill(regs, r[0], r[1])
	}
	st := Decode(Set522, image(regs, Set522, Base, DLM, Optional))
	v := values(st)
	num := func(k string) []collector.Reading { return v[k].Numbers }
	check := func(k string, want ...float64) {
		t.Helper()
		got := num(k)
		if len(got) != len(want) {
			t.Errorf("%s: %v, want %v", k, got, want)
			return
		}
		for i := range want {
			if got[i].Value != want[i] {
				t.Errorf("%s[%d] = %v, want %v", k, i, got[i].Value, want[i])
			}
		}
	}
	check("meter_wh", 73536*3600)
	check("current_a", 12.34)
	check("voltage_v", 231)
	check("transaction_wh", 5000*3600)
	check("time_since_charging_start", 70000)
	check("sig_current", 16)
	check("modbus_ev_soc", 0.57)
	check("modbus_hems_limit", 10)
	check("modbus_cp_available", 1)
	check("modbus_plug_lock", 1)
	check("modbus_dlm_slaves", 3)
	check("modbus_ev_max_current", 20)
	if _, ok := v["power_w"]; ok {
		t.Errorf("power from 0xFFFFFFFF: %v", v["power_w"])
	}
	for k, want := range map[string]string{"ocpp_state": "charging", "type2_state": "c", "firmware_ver": "5.33", "cp_model": "CC612_2M3PR",
		"modbus_relay": "one_phase", "modbus_dlm_mode": "master_standalone", "modbus_register_set": "5.22", "modbus_protocol_version": "0.9c"} {
		if v[k].Field.Value != want {
			t.Errorf("%s = %q, want %q", k, v[k].Field.Value, want)
		}
	}
	if !slices.Equal(v["errors"].Codes, []string{"rcmb_triggered", "contactor_weld"}) {
		t.Errorf("errors: %v", v["errors"].Codes)
	}

	// 5.12: no 218, 716, 718; totals from the phases, 16-bit session registers;
	// register 124 means the opposite.
	regs512 := map[uint16]uint16{100: 0x352e, 101: 0x3132, 124: 1, 705: 4000, 709: 300}
	u32(regs512, 200, 1000)
	u32(regs512, 202, 0xFFFFFFFF)
	u32(regs512, 204, 500)
	u32(regs512, 206, 2300)
	u32(regs512, 208, 0xFFFFFFFF)
	u32(regs512, 210, 0xFFFFFFFF)
	for _, r := range [][2]uint16{{100, 132}, {200, 217}, {600, 600}, {700, 714}, {1000, 1000}} {
		fill(regs512, r[0], r[1])
	}
	v = values(Decode(Set512, image(regs512, Set512, Base, Optional)))
	check("meter_wh", 1500*3600)
	check("power_w", 2300)
	check("transaction_wh", 4000*3600)
	check("time_since_charging_start", 300)
	check("modbus_cp_available", 0)
	if _, ok := v["modbus_ev_soc"]; ok {
		t.Error("SoC without an ISO 15118 vehicle")
	}
	if _, ok := v["voltage_v"]; ok {
		t.Error("voltages on 5.12")
	}

	// A meter that reads 0 (not read yet after a reboot) is no reading, on
	// both register sets: a lone 0 would count the whole meter again.
	u32(regs512, 200, 0)
	u32(regs512, 204, 0)
	v = values(Decode(Set512, image(regs512, Set512, Base, Optional)))
	check("meter_wh")
	check("power_w", 2300)
	u32(regs, 218, 0)
	v = values(Decode(Set522, image(regs, Set522, Base, DLM, Optional)))
	check("meter_wh")
	check("transaction_wh", 5000*3600)
}

func TestSetOf(t *testing.T) {
	for in, want := range map[string]Set{"5.12": Set512, "5.22": Set522, "5.33": Set522, "6.0 ": Set522, "4.99": Set512, "????": 0, "\x00\x00\x00\x00": 0} {
		w := []uint16{uint16(in[0])<<8 | uint16(in[1]), uint16(in[2])<<8 | uint16(in[3])}
		if got := setOf(w); got != want {
			t.Errorf("setOf(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestSaturatedSessionRegisters: 5.12's 16-bit session energy (705) and
// duration (709) stop at 0xFFFF and stay there: the true value is higher,
// so it is no value, as the same keys' 65535 in full_state; so is 0xFFFF
// in a register of amperes (1000, 712). 65534 is a reading.
func TestSaturatedSessionRegisters(t *testing.T) {
	for _, tt := range []struct {
		raw     uint16
		present bool
	}{{65535, false}, {65534, true}} {
		regs := map[uint16]uint16{100: 0x352e, 101: 0x3132, 705: tt.raw, 706: 16, 709: tt.raw, 712: tt.raw, 1000: tt.raw}
		for _, r := range [][2]uint16{{100, 132}, {200, 217}, {600, 600}, {700, 714}, {1000, 1000}} {
			fill(regs, r[0], r[1])
		}
		v := values(Decode(Set512, image(regs, Set512, Base, Optional)))
		for _, k := range []string{"transaction_wh", "time_since_charging_start", "modbus_min_current", "modbus_hems_limit"} {
			if _, ok := v[k]; ok != tt.present {
				t.Errorf("705/709 = %d: %s exported %v, want %v", tt.raw, k, ok, tt.present)
			}
		}
		if len(v["sig_current"].Numbers) != 1 {
			t.Errorf("706: %v", v["sig_current"])
		}
	}
}
