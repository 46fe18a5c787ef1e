package collector

import (
	"math"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// The signalled current is the least of several limits: the cable's
// rating, the installer's max_current, an energy manager's limit, the
// operator's, the DLM master's share, what the vehicle accepts. The
// controller shows some of them (which ones depends on the source: Modbus
// shows more); bender_cc_current_limited_by says which of those holds the
// current now. It is computed here, from the decoded state, so that REST,
// Modbus and merged [rest, modbus] probes answer alike.

// Limits are the values of the limit label of bender_cc_current_limited_by,
// in exposition order. Every one is exported on every probe that knows the
// signalled current.
var Limits = []string{"cable", "dlm", "energy_manager", "ev", "max_current", "none", "operator", "other"}

// LimitSet holds one bit per element of Limits.
type LimitSet uint8

// Has says whether the limit Limits[i] is in the set.
func (s LimitSet) Has(i int) bool { return s&(1<<i) != 0 }

// value is the sample of Limits[i]: 1 in the set, else 0.
func (s LimitSet) value(i int) float64 { return float64(s >> i & 1) }

// limitTolerance is how close to the signalled current a limit must be to
// hold it: controllers signal whole amperes, and a tie shows every limit
// that ties.
const limitTolerance = 0.5

// limitSource is a key that shows a limit, in amperes.
type limitSource struct {
	limit int // index in Limits
	row   int // index in Keys
}

var (
	sigRow       = byKey["sig_current"]
	limitSources = func() []limitSource {
		var s []limitSource
		for _, x := range []struct{ limit, key string }{
			{"cable", "type2_proximity"},             // the rating, when it sends one (13, 20, 32, 63)
			{"max_current", "max_current"},           // the installer's setting
			{"energy_manager", "energy_man_current"}, // full_state
			{"energy_manager", "modbus_hems_limit"},  // Modbus 1000
			{"operator", "modbus_operator_limit"},    // Modbus 134
			{"dlm", "modbus_dlm_available"},          // Modbus 633-635, a DLM master's
			{"ev", "modbus_ev_max_current"},          // Modbus 715: vehicle and cable
		} {
			s = append(s, limitSource{slices.Index(Limits, x.limit), byKey[x.key]})
		}
		return s
	}()
	limitNone  = LimitSet(1) << slices.Index(Limits, "none")
	limitOther = LimitSet(1) << slices.Index(Limits, "other")
)

// LimitedBy says which limits hold the current the controller signals:
// every shown limit within 0.5 A of it. "none" when no current is
// signalled, "other" when one is but no shown limit is that close (a
// charging profile, derating, a limit the controller does not show), each
// only ever alone. A limit that the signalled current exceeds is not in
// force and is ignored: energy_man_current is 0 on controllers without an
// energy manager while they signal 16 A. ok is false when the state has no
// signalled current.
func LimitedBy(st *FullState) (set LimitSet, ok bool) {
	var byRow [maxRows]*Value
	for i := range st.Values {
		byRow[st.Values[i].Spec.index()] = &st.Values[i]
	}
	return limitedBy(&byRow)
}

// limitedBy is LimitedBy on the values of a state by row of Keys, as
// WriteText holds them.
func limitedBy(byRow *[maxRows]*Value) (set LimitSet, ok bool) {
	sig, ok := least(byRow[sigRow])
	switch {
	case !ok:
		return 0, false
	case sig < limitTolerance:
		return limitNone, true
	}
	for _, s := range limitSources {
		if x, shown := least(byRow[s.row]); shown && math.Abs(x-sig) <= limitTolerance {
			set |= 1 << s.limit
		}
	}
	if set == 0 {
		set = limitOther
	}
	return set, true
}

// least is the smallest reading of v: for a DLM master's phases, the one
// with the least left to give holds.
func least(v *Value) (x float64, ok bool) {
	if v == nil || len(v.Numbers) == 0 {
		return 0, false
	}
	x = v.Numbers[0].Value
	for _, n := range v.Numbers[1:] {
		x = min(x, n.Value)
	}
	return x, true
}

const limitedByHelp = "1 for each limit that holds the current signalled to the vehicle, within 0.5 A: cable (type2_proximity rating), max_current (installer setting), energy_manager (energy_man_current; Modbus 1000), operator (Modbus 134), dlm (Modbus 633-635), ev (Modbus 715); other: a current is signalled below every limit shown; none: no current is signalled."

var limitedByDesc = newDesc("current_limited_by", limitedByHelp, "limit")

func collectLimitedBy(ch chan<- prometheus.Metric, st *FullState) {
	if set, ok := LimitedBy(st); ok {
		for i, l := range Limits {
			emit(ch, limitedByDesc, prometheus.GaugeValue, set.value(i), l)
		}
	}
}
