package collector

import (
	"bytes"
	"strings"
	"testing"
)

// limitsOf renders LimitedBy as the limits that are 1, "-" when the family
// is not exported.
func limitsOf(st *FullState) string {
	set, ok := LimitedBy(st)
	if !ok {
		return "-"
	}
	var on []string
	for i, l := range Limits {
		if set.Has(i) {
			on = append(on, l)
		}
	}
	return strings.Join(on, " ")
}

// withModbus adds Modbus-only readings (amperes; a list for the DLM
// phases) to a parsed full_state document, as Decode and Merge would.
func withModbus(t *testing.T, body string, mb map[string][]float64) *FullState {
	t.Helper()
	st, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	for key, xs := range mb {
		spec, ok := Lookup(key)
		if !ok {
			t.Fatalf("no key %s", key)
		}
		v := Value{Spec: spec, Field: Field{Key: key}}
		for i, x := range xs {
			v.Numbers = append(v.Numbers, Reading{Index: i, Value: x})
		}
		st.Values = append(st.Values, v)
	}
	return st
}

func TestLimitedBy(t *testing.T) {
	charging522 := strings.Replace(string(fixture(t, "fw5.22.1_mennekes.txt")), "sig_current:0", "sig_current:16", 1)
	for _, tt := range []struct {
		name, body string
		modbus     map[string][]float64
		want       string
	}{
		// The real bodies.
		{"fw5.33 charging at 16 A: the energy manager's 16 A holds, not the 32 A cable or max_current", string(fixture(t, "fw5.33_charging.txt")), nil, "energy_manager"},
		{"fw5.22.1 (Mennekes) without a vehicle: no current signalled", string(fixture(t, "fw5.22.1_mennekes.txt")), nil, "none"},
		{"a faulted controller signals nothing", string(fixture(t, "faulted_crlf.txt")), nil, "none"},
		// energy_man_current:0 is what the real 5.22.1 body sends: no energy
		// manager. While 16 A is signalled it is no 0 A limit.
		{"fw5.22.1 at 16 A: energy_man_current 0 is no energy manager, max_current 16 holds", charging522, nil, "max_current"},
		{"a tie shows both", "sig_current:32\ntype2_proximity:32\nmax_current:32\nenergy_man_current:0", nil, "cable max_current"},
		{"within half an ampere", "sig_current:15.6\nmax_current:16\ntype2_proximity:20", nil, "max_current"},
		{"more than half an ampere below every limit: other", "sig_current:10\nmax_current:16\ntype2_proximity:32\nenergy_man_current:0", nil, "other"},
		{"a limit the current exceeds is not in force", "sig_current:16\nmax_current:32\nenergy_man_current:10", nil, "other"},
		{"a word for the cable is no rating", "sig_current:13\ntype2_proximity:cable_attached\nmax_current:16", nil, "other"},
		{"the 13 A cable", "sig_current:13\ntype2_proximity:13\nmax_current:16\nenergy_man_current:16", nil, "cable"},
		{"the sentinel is no limit", "sig_current:16\nenergy_man_current:4294967295\nmax_current:32", nil, "other"},
		{"no signalled current, no series", "max_current:16\nenergy_man_current:16", nil, "-"},
		{"0 A signalled is none, whatever ties", "sig_current:0\nenergy_man_current:0", nil, "none"},
		// What Modbus adds (registers 134, 633-635, 715, 1000).
		{"Modbus: the HEMS limit", "sig_current:10", map[string][]float64{"modbus_hems_limit": {10}, "modbus_operator_limit": {32}, "modbus_ev_max_current": {32}}, "energy_manager"},
		{"Modbus: the operator's limit", "sig_current:20", map[string][]float64{"modbus_hems_limit": {32}, "modbus_operator_limit": {20}, "modbus_ev_max_current": {32}}, "operator"},
		{"Modbus: the DLM master's phase with the least left", "sig_current:8", map[string][]float64{"modbus_hems_limit": {32}, "modbus_dlm_available": {20, 8, 17}}, "dlm"},
		{"Modbus: the vehicle", "sig_current:13", map[string][]float64{"modbus_hems_limit": {32}, "modbus_ev_max_current": {13}}, "ev"},
		{"Modbus: HEMS 0 A pauses: nothing signalled", "sig_current:0", map[string][]float64{"modbus_hems_limit": {0}}, "none"},
		{"merged: the cable and the vehicle (715 is the lower of both) tie", "sig_current:20\ntype2_proximity:20\nmax_current:32",
			map[string][]float64{"modbus_ev_max_current": {20}, "modbus_hems_limit": {32}}, "cable ev"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := limitsOf(withModbus(t, tt.body, tt.modbus)); got != tt.want {
				t.Errorf("limited by %q, want %q", got, tt.want)
			}
		})
	}
}

// TestLimitedByExposition: every limit is exported, 0 or 1, from both
// exposition paths (held equal by TestWriteTextMatchesClientGolang).
func TestLimitedByExposition(t *testing.T) {
	st, err := Parse(fixture(t, "fw5.33_charging.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	buf := BufferPool.Get().(*bytes.Buffer)
	defer BufferPool.Put(buf)
	buf.Reset()
	WriteText(buf, Result{State: st}, nil)
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(line, "bender_cc_current_limited_by{") {
			b.WriteString(line + "\n")
		}
	}
	want := `bender_cc_current_limited_by{limit="cable"} 0
bender_cc_current_limited_by{limit="dlm"} 0
bender_cc_current_limited_by{limit="energy_manager"} 1
bender_cc_current_limited_by{limit="ev"} 0
bender_cc_current_limited_by{limit="max_current"} 0
bender_cc_current_limited_by{limit="none"} 0
bender_cc_current_limited_by{limit="operator"} 0
bender_cc_current_limited_by{limit="other"} 0
`
	if b.String() != want {
		t.Errorf("got\n%swant\n%s", b.String(), want)
	}
}
