package collector

import "math"

// Sentinel is a kind of "no value" a controller sends in place of a
// reading it could not take. Every Number and List treats all-ones as no
// value; a row names the other sentinel its key can carry. A sentinel is
// never a sample: 4.29 GW of power or an 18-hour session that stopped
// counting at 65535 s would be worse than no series.
type Sentinel uint8

// The sentinels of the key table.
const (
	// AllOnes is 0xFFFFFFFF (4294967295, "4.29e+09" in the controller's
	// UI): a 32-bit meter register with no reading (no meter, a phase a
	// single-phase meter lacks, a transient gap). Every key has it.
	AllOnes Sentinel = iota
	// Saturated16 adds 65535 (0xFFFF) for keys whose controller value can
	// be 16 bits wide: the session's energy and duration (Modbus 705 and
	// 709 saturate there and stay), and the currents in whole amperes. At
	// a saturated register the true value is higher; where the controller
	// counts in 32 bits, dropping the one reading that is exactly 65535
	// costs nothing.
	Saturated16
	// AllOnesMilli adds 0xFFFFFFFF milliamperes sent in amperes
	// (4294967.295, rounded to the decimals the controller sends): the
	// per-phase currents of current_a come from the meter's 32-bit mA
	// registers (Modbus 212-217), which a single-phase meter fills with
	// all-ones on L2 and L3.
	AllOnesMilli
)

// allOnes32 is 0xFFFFFFFF.
const allOnes32 = math.MaxUint32

// Is says whether x, as the controller sent it (before any unit
// conversion), means "no value".
func (s Sentinel) Is(x float64) bool {
	switch {
	case x == allOnes32:
		return true
	case s == Saturated16:
		return x == math.MaxUint16
	case s == AllOnesMilli:
		// 4294967.29 or 4294967.3, however the controller rounds.
		return math.Abs(x-allOnes32/1000.0) < 0.01
	}
	return false
}
