package modbus

import (
	"strings"
	"testing"

	"github.com/bender-cc/bender_cc_exporter/collector"
)

// TestLimitedByAcrossSources: the binding limit is computed from the decoded
// state, whichever source filled it: the registers alone, full_state alone,
// and both merged, where each adds the limits only it shows.
func TestLimitedByAcrossSources(t *testing.T) {
	regs := map[uint16]uint16{100: 0x352e, 101: 0x3333, 122: 3, 134: 32, 706: 20, 715: 20, 1000: 32}
	for _, r := range [][2]uint16{{100, 152}, {200, 227}, {600, 600}, {700, 719}, {1000, 1000}} {
		fill(regs, r[0], r[1])
	}
	mb := collector.Result{State: Decode(Set522, image(regs, Set522, Base, Optional))}
	st, err := collector.Parse([]byte("sig_current:20\ntype2_proximity:20\nmax_current:32\nenergy_man_current:0"))
	if err != nil {
		t.Fatal(err)
	}
	rest := collector.Result{State: st}
	for _, tt := range []struct {
		name string
		r    collector.Result
		want string
	}{
		{"Modbus: 715, the lower of cable and vehicle", mb, "ev"},
		{"full_state: the cable's rating", rest, "cable"},
		{"both: the two tie", Merge(rest, mb), "cable ev"},
	} {
		set, ok := collector.LimitedBy(tt.r.State)
		var on []string
		for i, l := range collector.Limits {
			if set.Has(i) {
				on = append(on, l)
			}
		}
		if got := strings.Join(on, " "); !ok || got != tt.want {
			t.Errorf("%s: limited by %q (%v), want %q", tt.name, got, ok, tt.want)
		}
	}
}
