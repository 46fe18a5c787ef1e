package simulator

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// The Modbus view of a controller: the registers of the manufacturer's
// Modbus TCP server, rendered from the same state and the same full_state
// document the REST view serves (one life, two views), so that the two
// agree wherever they carry the same quantity.

// ModbusSet returns the register set controller c serves: 5.12 for
// firmware 5.12, else 5.22.
func (c *Controller) ModbusSet() string {
	if c.Firmware == "5.12" {
		return "5.12"
	}
	return "5.22"
}

// HEMSLimit is what the site's energy manager writes into register 1000 at
// t: it changes every five minutes, never below what the vehicle is being
// given while charging (the REST view's signalled current), and 0 now and
// then while a vehicle waits.
func (c *Controller) HEMSLimit(s State, t time.Time) float64 {
	steps := []float64{32, 16, 10, 6, 0, 32, 20}
	h := steps[(t.Unix()/300+int64(c.ID))%int64(len(steps))]
	if s.Phase == Charging {
		return max(h, s.SignaledCurrent)
	}
	return h
}

// vehicle is the car of a cycle: whether it talks ISO 15118, and its
// battery.
func (c *Controller) vehicle(k int) (iso bool, startSoC, capacityWh float64) {
	r := rand.New(rand.NewPCG(c.seed^0x5eed15118, uint64(c.ID)<<32|uint64(k)))
	return r.IntN(2) == 0, 10 + float64(r.IntN(50)), 40000 + float64(r.IntN(5))*10000
}

// Registers renders the registers of controller c in state s at t, keyed
// by address. site holds the states of the controllers of its DLM site
// when c is a master (nil otherwise).
func (c *Controller) Registers(s State, t time.Time, dlm DLMRole, site []State) map[uint16]uint16 {
	d := c.Document(s)
	get := func(k string) string { v, _ := Value(d, k); return v }
	num := func(k string) float64 { x, _ := strconv.ParseFloat(get(k), 64); return x }
	regs := make(map[uint16]uint16, 120)
	u32 := func(a uint16, v uint32) { regs[a], regs[a+1] = uint16(v>>16), uint16(v) }
	str := func(a uint16, words int, s string) {
		b := []byte(s + strings.Repeat(" ", 2*words))[:2*words]
		for i := range words {
			regs[a+uint16(i)] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
	}
	new := c.ModbusSet() == "5.22"
	fw := get("firmware_ver")
	str(100, 2, fw[:min(4, len(fw))])
	regs[104] = uint16(indexOf(ocppStates, get("ocpp_state")))
	var mask uint32
	for code := range strings.SplitSeq(get("errors"), ";") {
		if b := indexOf(errorBits, code); b >= 0 {
			mask |= 1 << b
		}
	}
	if s.Backend == "not_connected" {
		mask |= 1 << 7
	}
	for a := uint16(105); a <= 110; a++ {
		regs[a] = 0
	}
	// Low word first, low byte first in each word (the specification's example).
	swap := func(x uint16) uint16 { return x>>8 | x<<8 }
	regs[111], regs[112] = swap(uint16(mask)), swap(uint16(mask>>16))
	str(120, 2, "0.9c")
	regs[122] = uint16(1 + strings.IndexByte("abcde", get("type2_state")[0]))
	regs[124] = map[bool]uint16{true: 1, false: 0}[new] // available: 1 from 5.22 on, 0 before
	regs[130], regs[131], regs[132] = 0, 6, 60          // no address offset
	regs[140] = 1
	if !c.ThreePhase {
		regs[140] = 5
	}
	// Per phase, the energy and power split so that the phases add up to
	// the totals exactly (what 5.12, which has no total registers, exports).
	currents := strings.Split(get("current_a"), ",")
	whs, pws := split(num("meter_wh"), map[bool]int{true: 3, false: 1}[c.ThreePhase], nil), split(num("power_w"), len(currents), currents)
	for p := range 3 {
		wh, pw, mA := uint32(math.MaxUint32), uint32(math.MaxUint32), uint32(math.MaxUint32)
		if p < len(whs) {
			wh = whs[p]
		}
		if p < len(currents) {
			x, _ := strconv.ParseFloat(strings.TrimSpace(currents[p]), 64)
			mA, pw = uint32(math.Round(x*1000)), pws[p]
		}
		u32(200+uint16(2*p), wh)
		u32(206+uint16(2*p), pw)
		u32(212+uint16(2*p), mA)
	}
	regs[600] = uint16(dlm)
	if dlm == DLMMaster {
		c.dlmRegisters(regs, site)
	}
	for a := uint16(700); a <= 714; a++ {
		regs[a] = 0
	}
	regs[705] = uint16(min(num("transaction_wh"), 65535))
	regs[706] = uint16(num("sig_current"))
	regs[709] = uint16(min(num("time_since_charging_start"), 65535))
	regs[712] = 6
	iso, soc0, capacity := c.vehicle(s.CycleNumber)
	regs[730], regs[740] = 0, 0
	if iso && s.Phase != Idle {
		regs[740] = 1
		regs[730] = uint16(min(100, soc0+100*s.TransactionWh/capacity))
	}
	regs[1000] = uint16(c.HEMSLimit(s, t))
	if c.Firmware == "5.33" {
		regs[133] = uint16(c.MaxCurrent) // the hardware limit of the 5.32 documentation
	}
	if new {
		regs[134] = uint16(c.MaxCurrent)
		str(142, 10, c.Model)
		regs[152] = map[bool]uint16{true: 1}[s.Phase == Charging || s.Phase == Finishing]
		u32(218, uint32(num("meter_wh")))
		u32(220, uint32(num("power_w")))
		volts := strings.Split(get("voltage_v"), ",")
		for p := range 3 {
			v := uint32(math.MaxUint32)
			if p < len(volts) && volts[0] != "" && (p == 0 || c.ThreePhase) {
				x, _ := strconv.ParseFloat(volts[p], 64)
				v = uint32(x)
			}
			u32(222+uint16(2*p), v)
		}
		regs[715] = 0
		if s.Phase != Idle {
			regs[715] = uint16(min(c.MaxCurrent, num("type2_proximity")))
			if c.FixedCable || regs[715] == 0 {
				regs[715] = uint16(c.MaxCurrent)
			}
		}
		u32(716, uint32(num("transaction_wh")))
		u32(718, uint32(num("time_since_charging_start")))
	}
	return regs
}

// split divides total into n whole parts, by the weights when they are
// not all zero, the first part taking what rounding leaves.
func split(total float64, n int, weights []string) []uint32 {
	w := make([]float64, n)
	sum := 0.0
	for i := range w {
		w[i] = 1
		if i < len(weights) {
			w[i], _ = strconv.ParseFloat(strings.TrimSpace(weights[i]), 64)
		}
		sum += w[i]
	}
	parts := make([]uint32, n)
	rest := uint32(total)
	for i := n - 1; i > 0; i-- {
		if sum > 0 {
			parts[i] = min(rest, uint32(math.Floor(total*w[i]/sum)))
		}
		rest -= parts[i]
	}
	parts[0] = rest
	return parts
}

// DLMRole is a controller's register 600.
type DLMRole uint16

// The DLM roles the simulator gives.
const (
	DLMDisabled DLMRole = 0
	DLMMaster   DLMRole = 2 // master standalone
	DLMSlave    DLMRole = 4 // slave with a fixed IP
)

// dlmRegisters fills 610-635 of a master from its site's states: 80 A per
// phase for the site, the operator's 63 A, and what the slaves draw.
func (c *Controller) dlmRegisters(regs map[uint16]uint16, site []State) {
	var applied [3]float64
	connected := 0
	for _, s := range site {
		if s.Backend != "not_connected" { // a slave that lost its network drops off the site too
			connected++
		}
		for p, a := range s.Currents {
			applied[p] += a
		}
	}
	for p := range 3 {
		regs[610+uint16(p)] = 80
		regs[613+uint16(p)] = 63
		regs[630+uint16(p)] = uint16(math.Round(applied[p]))
		regs[633+uint16(p)] = uint16(max(0, 63-math.Round(applied[p])))
	}
	regs[620] = 0
	regs[621] = uint16(connected)
}

var (
	ocppStates = []string{"available", "occupied", "reserved", "unavailable", "faulted", "preparing", "charging", "suspendedevse", "suspendedev", "finishing"}
	// errorBits are the full_state codes of the Modbus error bits the
	// simulator's faults set (bit 0 rcmb, 3 MCB Type 2, 8 plug locking).
	errorBits = []string{0: "rcmb_triggered", 3: "mcb_type2_triggered", 6: "contactor_weld", 8: "plug_locking_failed"}
)

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s && s != "" {
			return i
		}
	}
	return -1
}
