package modbus

import (
	"errors"
	"slices"

	"github.com/bender-cc/bender_cc_exporter/collector"
)

// Merge joins the results of a probe that read both sources of one
// controller into one set of series. Where both carry a quantity, full_state
// wins: it is one snapshot the controller took at one instant, while the
// registers are read in several blocks over some milliseconds, and its
// values are the ones the metric contract was written for. Modbus adds what
// full_state lacks; error codes are the union of both (the error bits name
// faults, such as a welded contactor, that full_state does not list).
//
// The probe is up when at least one source was read: the controller
// answered. bender_cc_source_up says which did; Err is set only when both
// failed (joining both errors).
func Merge(rest, mb collector.Result) collector.Result {
	out := collector.Result{Status: rest.Status, Body: rest.Body, Duration: max(rest.Duration, mb.Duration),
		Sources: []collector.SourceStatus{{Name: "modbus", Err: mb.Err}, {Name: "rest", Err: rest.Err}}} // in exposition order
	switch {
	case rest.Err != nil && mb.Err != nil:
		out.Err = errors.Join(rest.Err, mb.Err)
		return out
	case mb.Err != nil:
		out.State = rest.State
		return out
	case rest.Err != nil:
		out.State = mb.State
		return out
	}
	st := *rest.State
	st.Values = slices.Clone(st.Values)
	have := map[string]int{}
	for i, v := range st.Values {
		have[v.Spec.Key] = i
	}
	for _, v := range mb.State.Values {
		i, ok := have[v.Spec.Key]
		switch {
		case !ok:
			st.Values = append(st.Values, v)
		case v.Spec.Kind == collector.Errors:
			merged := st.Values[i]
			merged.Codes = slices.Clone(merged.Codes)
			for _, c := range v.Codes {
				if !slices.Contains(merged.Codes, c) {
					merged.Codes = append(merged.Codes, c)
				}
			}
			st.Values[i] = merged
		}
	}
	st.Invalid = append(slices.Clone(st.Invalid), mb.State.Invalid...)
	out.State = &st
	return out
}
