// Package modbus reads a Bender/ebee charge controller over Modbus TCP: the
// register table (data, like the full_state key table), the block reads it
// plans from it, and the decoding into the collector's FullState, so that
// exposition stays one path (collector.WriteText and collector.Collector).
//
// The reader is read-only by construction: its client (mbap.go) can build
// one request only, a read of holding registers (function code 03), and
// refuses one that would touch a register of personal data (IdTag 720-729,
// EVCCID 741-746, WRITE_IDTAG 1110-1119); no plan asks for one
// (TestNoPersonalRegisters).
//
// The client is the package's own, a few dozen lines of MBAP framing over
// the connection the module's dialer returns, rather than
// github.com/simonvetter/modbus: that library dials by itself and takes no
// connection, so it needed a loopback relay (a second socket and two
// goroutines per probe) to go through the dialer, which bounds the dial by
// the probe's deadline, checks probe.allowed_targets and counts the
// connection; and it sends one request at a time, where a probe over a
// slow link needs several in flight (Modbus TCP's transaction id exists
// for this). Owning the framing also keeps the guard where the bytes are
// built: there is no write request to refuse, because none can be
// encoded. The library stays as the independent server the simulator and
// the tests speak to.
//
// A probe reads the firmware version first and alone (it tells the register
// set), then the rest of the set's coalesced plan (plan.go) in one burst;
// a controller that cannot take that is read the way it can, within the
// probe and from then on (session.go, memory.go).
package modbus

import "github.com/bender-cc/bender_cc_exporter/collector"

// Set is a register set: what a firmware's Modbus server exposes.
type Set uint8

// The register sets (the manufacturer's specification rev. 1.07).
const (
	Set512 Set = 1 << iota // firmware before 5.22
	Set522                 // firmware 5.22 and later: adds 134, 142-152, 218-227, 715-719
	both   = Set512 | Set522
)

func (s Set) String() string {
	if s == Set522 {
		return "5.22"
	}
	return "5.12"
}

// Type is how a register's words become a value.
type Type uint8

// The register types of the map.
const (
	U16       Type = iota // one word
	U32                   // two words, high word first; 0xFFFFFFFF is "no value"
	ASCII                 // Words words, two characters each, high byte first
	ErrorMask             // 105-112: low word first, low byte first in each word
	Unused                // read because it lies inside a block, never exported
)

// Group says when a register is read.
type Group uint8

// The groups of the table.
const (
	Base     Group = iota // every probe
	DLM                   // only on a DLM master (register 600 is 1 or 2)
	Optional              // own read; an exception reply means "not on this firmware", not a failed probe
)

// Register is one row of the register table: where a value is, how it is
// encoded and which collector key (metric) it feeds.
type Register struct {
	Addr  uint16
	Words uint16 // 0 means 1 (U16) or 2 (U32)
	Type  Type
	Sets  Set // register sets that have it
	Group Group
	Key   string  // the collector.Keys row it feeds; "" for Unused
	Index int     // element of a List key (phase)
	Scale float64 // raw × Scale is the base unit (0: 1)
	// States names the raw values of a StateSet key: States[raw-First];
	// a value without a name is exported as its number.
	States []string
	First  uint16
	// Sum adds the rows of Key (skipping "no value"), for totals that a
	// register set has only per phase.
	Sum bool
	// Fallback rows feed Key only in a register set that has no other row
	// for it (5.12 lacks 218 total energy: the sum of 200-205 stands in). A
	// transient "no value" in the preferred register is not a reason to fall
	// back: a total and a sum of phases differ by rounding, and a counter
	// must not jump.
	Fallback bool
	// Needs, when set, is a register that must read 1 for this one to mean
	// anything (the state of charge only for an ISO 15118 vehicle).
	Needs uint16
	// Invert exports 1-raw (register 124 before 5.22: 0 means available).
	Invert bool
	// WhileVehicle registers (Optional only) are read only while a vehicle
	// is connected (register 122 is B, C or D): without one they say nothing.
	WhileVehicle bool
}

func (r *Register) words() uint16 {
	switch {
	case r.Words > 0:
		return r.Words
	case r.Type == U32:
		return 2
	}
	return 1
}

var ocppStates = []string{"available", "occupied", "reserved", "unavailable", "faulted", "preparing", "charging", "suspendedevse", "suspendedev", "finishing"}

// Registers is the table of every register the exporter reads. IdTag
// (720-729), EVCCID (741-746) and WRITE_IDTAG (1110-1119) are deliberately
// absent: TestNoPersonalRegisters holds every plan clear of them.
var Registers = []Register{
	{Addr: 100, Words: 2, Type: ASCII, Sets: both, Key: "firmware_ver"},
	{Addr: 104, Type: U16, Sets: both, Key: "ocpp_state", States: ocppStates},
	{Addr: 105, Words: 8, Type: ErrorMask, Sets: both, Key: "errors"},
	{Addr: 120, Words: 2, Type: ASCII, Sets: both, Key: "modbus_protocol_version"},
	{Addr: 122, Type: U16, Sets: both, Key: "type2_state", States: []string{"a", "b", "c", "d", "e"}, First: 1},
	{Addr: 124, Type: U16, Sets: Set512, Key: "modbus_cp_available", Invert: true},
	{Addr: 124, Type: U16, Sets: Set522, Key: "modbus_cp_available"},
	{Addr: 131, Type: U16, Sets: both, Key: "modbus_safe_current"},
	{Addr: 132, Type: U16, Sets: both, Key: "modbus_comm_timeout"},
	{Addr: 134, Type: U16, Sets: Set522, Key: "modbus_operator_limit"},
	{Addr: 140, Type: U16, Sets: both, Group: Optional, Key: "modbus_relay", States: []string{"off", "three_phase", "", "", "", "one_phase"}},
	{Addr: 142, Words: 10, Type: ASCII, Sets: Set522, Key: "cp_model"},
	{Addr: 152, Type: U16, Sets: Set522, Key: "modbus_plug_lock"},

	{Addr: 200, Type: U32, Sets: both, Key: "meter_wh", Sum: true, Fallback: true, Scale: 3600},
	{Addr: 202, Type: U32, Sets: both, Key: "meter_wh", Sum: true, Fallback: true, Scale: 3600},
	{Addr: 204, Type: U32, Sets: both, Key: "meter_wh", Sum: true, Fallback: true, Scale: 3600},
	{Addr: 206, Type: U32, Sets: both, Key: "power_w", Sum: true, Fallback: true},
	{Addr: 208, Type: U32, Sets: both, Key: "power_w", Sum: true, Fallback: true},
	{Addr: 210, Type: U32, Sets: both, Key: "power_w", Sum: true, Fallback: true},
	{Addr: 212, Type: U32, Sets: both, Key: "current_a", Index: 0, Scale: 0.001},
	{Addr: 214, Type: U32, Sets: both, Key: "current_a", Index: 1, Scale: 0.001},
	{Addr: 216, Type: U32, Sets: both, Key: "current_a", Index: 2, Scale: 0.001},
	{Addr: 218, Type: U32, Sets: Set522, Key: "meter_wh", Scale: 3600},
	{Addr: 220, Type: U32, Sets: Set522, Key: "power_w"},
	{Addr: 222, Type: U32, Sets: Set522, Key: "voltage_v", Index: 0},
	{Addr: 224, Type: U32, Sets: Set522, Key: "voltage_v", Index: 1},
	{Addr: 226, Type: U32, Sets: Set522, Key: "voltage_v", Index: 2},

	{Addr: 600, Type: U16, Sets: both, Key: "modbus_dlm_mode", States: []string{"disabled", "master_with_internal_slave", "master_standalone", "slave_auto_discovery", "slave_fixed_ip"}},
	{Addr: 610, Type: U16, Sets: both, Group: DLM, Key: "modbus_dlm_sub_limit", Index: 0},
	{Addr: 611, Type: U16, Sets: both, Group: DLM, Key: "modbus_dlm_sub_limit", Index: 1},
	{Addr: 612, Type: U16, Sets: both, Group: DLM, Key: "modbus_dlm_sub_limit", Index: 2},
	{Addr: 613, Type: U16, Sets: both, Group: DLM, Key: "modbus_dlm_operator_sub_limit", Index: 0},
	{Addr: 614, Type: U16, Sets: both, Group: DLM, Key: "modbus_dlm_operator_sub_limit", Index: 1},
	{Addr: 615, Type: U16, Sets: both, Group: DLM, Key: "modbus_dlm_operator_sub_limit", Index: 2},
	{Addr: 620, Type: U16, Sets: both, Group: DLM, Key: "modbus_dlm_external_meter"},
	{Addr: 621, Type: U16, Sets: both, Group: DLM, Key: "modbus_dlm_slaves"},
	{Addr: 630, Type: U16, Sets: both, Group: DLM, Key: "modbus_dlm_applied", Index: 0},
	{Addr: 631, Type: U16, Sets: both, Group: DLM, Key: "modbus_dlm_applied", Index: 1},
	{Addr: 632, Type: U16, Sets: both, Group: DLM, Key: "modbus_dlm_applied", Index: 2},
	{Addr: 633, Type: U16, Sets: both, Group: DLM, Key: "modbus_dlm_available", Index: 0},
	{Addr: 634, Type: U16, Sets: both, Group: DLM, Key: "modbus_dlm_available", Index: 1},
	{Addr: 635, Type: U16, Sets: both, Group: DLM, Key: "modbus_dlm_available", Index: 2},

	// 700-704 (ISO 15118 required energy, departure time and date) and
	// 707-708, 710-711 (session start and end time) are read only because
	// they lie inside the block: a time of day without a date or time zone,
	// and an energy of undocumented unit, cannot be stated truthfully.
	{Addr: 700, Words: 5, Type: Unused, Sets: both},
	{Addr: 705, Type: U16, Sets: both, Key: "transaction_wh", Fallback: true, Scale: 3600},
	{Addr: 706, Type: U16, Sets: both, Key: "sig_current"},
	{Addr: 707, Words: 2, Type: Unused, Sets: both},
	{Addr: 709, Type: U16, Sets: both, Key: "time_since_charging_start", Fallback: true},
	{Addr: 710, Words: 2, Type: Unused, Sets: both},
	{Addr: 712, Type: U16, Sets: both, Key: "modbus_min_current"},
	{Addr: 713, Words: 2, Type: Unused, Sets: both},
	{Addr: 715, Type: U16, Sets: Set522, Key: "modbus_ev_max_current"},
	{Addr: 716, Type: U32, Sets: Set522, Key: "transaction_wh", Scale: 3600},
	{Addr: 718, Type: U32, Sets: Set522, Key: "time_since_charging_start"},
	{Addr: 730, Type: U16, Sets: both, Group: Optional, Key: "modbus_ev_soc", Scale: 0.01, Needs: 740, WhileVehicle: true},
	{Addr: 740, Type: U16, Sets: both, Group: Optional, Key: "modbus_iso15118", WhileVehicle: true},

	{Addr: 1000, Type: U16, Sets: both, Key: "modbus_hems_limit"},
}

// personal are the registers of personal data, never read.
var personal = [][2]uint16{{720, 729}, {741, 746}, {1110, 1119}}

// touchesPersonal says whether a read of n registers from addr would
// include one of them.
func touchesPersonal(addr, n uint16) bool {
	end := uint32(addr) + uint32(n) - 1
	for _, p := range personal {
		if uint32(addr) <= uint32(p[1]) && end >= uint32(p[0]) {
			return true
		}
	}
	return false
}

// Block is one read: Count registers from Addr, with function code 03.
type Block struct {
	Addr, Count  uint16
	Group        Group
	WhileVehicle bool // read only while a vehicle is connected
}

// maxBlock is the most registers one read may ask for (the protocol's limit).
const maxBlock = 125

// Plan returns the block reads of a group on a register set: contiguous
// registers of the table in one read each, an Optional register alone.
func Plan(set Set, group Group) []Block {
	var blocks []Block
	for i := range Registers {
		r := &Registers[i]
		if r.Sets&set == 0 || r.Group != group {
			continue
		}
		end := r.Addr + r.words()
		if n := len(blocks); n > 0 && group != Optional {
			b := &blocks[n-1]
			switch {
			case r.Addr >= b.Addr && end <= b.Addr+b.Count:
				continue // a second row for the same register (124)
			case r.Addr == b.Addr+b.Count && end-b.Addr <= maxBlock:
				b.Count = end - b.Addr
				continue
			}
		}
		blocks = append(blocks, Block{Addr: r.Addr, Count: end - r.Addr, Group: group, WhileVehicle: r.WhileVehicle})
	}
	return blocks
}

// specs maps the table's keys to their collector rows; checked by a test.
var specs = func() map[string]*collector.KeySpec {
	m := map[string]*collector.KeySpec{}
	for _, r := range Registers {
		if r.Key != "" {
			if s, ok := collector.Lookup(r.Key); ok {
				m[r.Key] = s
			}
		}
	}
	return m
}()
