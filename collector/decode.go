package collector

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// decode turns the value of one known key into its typed reading: numbers
// in base units, the 0/1 of a switch, the documented spelling of a state,
// the active error codes. An error says why the value is not exported.
func decode(spec *KeySpec, f Field) (Value, error) {
	val := Value{Spec: spec, Field: f}
	if n := strings.Count(f.Value, "\n"); n > 0 {
		return val, fmt.Errorf("the value goes on over %d more lines", n)
	}
	if (spec.Kind == StateSet || spec.Kind == Info) && len(f.Value) > maxLabelValue {
		return val, fmt.Errorf("value longer than %d bytes", maxLabelValue)
	}
	switch spec.Kind {
	case StateSet:
		// Alerts select the documented spelling: "Charging" (the OCPP
		// specification's) is the state "charging".
		if !slices.Contains(spec.States, f.Value) {
			for _, s := range spec.States {
				if strings.EqualFold(s, f.Value) {
					val.Field.Value = s
					break
				}
			}
		}
		if spec.NumberMetric != "" {
			if x, err := parseNumber(f.Value); err == nil {
				val.Numbers = []Reading{{0, x}}
			}
		}
	case Bool:
		switch f.Value {
		case spec.True:
			val.Numbers = []Reading{{0, 1}}
		case spec.False:
			val.Numbers = []Reading{{0, 0}}
		default:
			return val, fmt.Errorf("want %q or %q", spec.True, spec.False)
		}
	case Number:
		x, err := parseNumber(f.Value)
		if err != nil {
			return val, err
		}
		if !spec.Sentinel.Is(x) && (x != 0 || !spec.ZeroIsNoValue) {
			val.Numbers = []Reading{{0, spec.Unit.ToBase(x)}}
		}
	case List:
		parts := strings.Split(f.Value, ",")
		if len(parts) > len(spec.ListValues) {
			return val, fmt.Errorf("%d values, at most %d expected", len(parts), len(spec.ListValues))
		}
		val.Numbers = make([]Reading, 0, len(parts))
		for i, p := range parts {
			x, err := parseNumber(strings.TrimSpace(p))
			if err != nil {
				return val, fmt.Errorf("value %d: %w", i+1, err)
			}
			if !spec.Sentinel.Is(x) {
				val.Numbers = append(val.Numbers, Reading{i, spec.Unit.ToBase(x)})
			}
		}
	case Errors:
		for c := range strings.SplitSeq(f.Value, ";") {
			c = strings.TrimSpace(c)
			if c == "" || slices.Contains(spec.NoneValues, c) || slices.Contains(val.Codes, c) {
				continue
			}
			if len(c) > maxLabelValue {
				return val, fmt.Errorf("error code longer than %d bytes", maxLabelValue)
			}
			if len(val.Codes) == maxErrorCodes {
				return val, fmt.Errorf("more than %d error codes", maxErrorCodes)
			}
			val.Codes = append(val.Codes, c)
		}
	}
	return val, nil
}

// parseNumber accepts what controllers send: "16", "+25.30", "0.00".
func parseNumber(s string) (float64, error) {
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("not a number: %s", quote(s))
	}
	return x, nil
}
