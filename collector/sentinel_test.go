package collector

import (
	"reflect"
	"testing"
)

// TestSentinelsAreNoValue: the values a controller sends for a reading it
// could not take are never samples, whichever key carries them; the same
// numbers on keys that cannot carry that sentinel are readings.
func TestSentinelsAreNoValue(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		want       []string
	}{
		{"all-ones on every kind of number",
			"meter_wh:4294967295\npower_w:4294967295\nvoltage_v:231,4294967295,4294967295\ncon_cycles_type2:4294967295\nambient_temp:4294967295\nsig_current:4294967295",
			[]string{"meter_wh=4294967295", "power_w=4294967295", "voltage_v=231,4294967295,4294967295 → 231@L1", "con_cycles_type2=4294967295", "ambient_temp=4294967295", "sig_current=4294967295"}},
		{"16-bit saturation on the keys a 16-bit register can feed",
			"transaction_wh:65535\ntime_since_charging_start:65535\nsig_current:65535\nmax_current:65535\nenergy_man_current:65535",
			[]string{"transaction_wh=65535", "time_since_charging_start=65535", "sig_current=65535", "max_current=65535", "energy_man_current=65535"}},
		{"65535 is a reading on 32-bit keys, and 65534 and 65536 everywhere",
			"meter_wh:65535\npower_w:65535\ncon_cycles_type2:65535\ntransaction_wh:65536\ntime_since_charging_start:65534",
			[]string{"meter_wh=65535 → 235926000", "power_w=65535 → 65535", "con_cycles_type2=65535 → 65535", "transaction_wh=65536 → 235929600", "time_since_charging_start=65534 → 65534"}},
		{"all-ones milliamperes sent in amperes, either rounding",
			"current_a:12.50,4294967.30,4294967.29",
			[]string{"current_a=12.50,4294967.30,4294967.29 → 12.5@L1"}},
		{"a phase current near the sentinel but not it is a reading",
			"current_a:4294967.2,1",
			[]string{"current_a=4294967.2,1 → 4294967.2@L1 1@L2"}},
		{"all-ones on a list element skips only that element",
			"current_a:4294967295,16.1\nrcmb_values:30.1, 4294967295",
			[]string{"current_a=4294967295,16.1 → 16.1@L2", "rcmb_values=30.1, 4294967295 → 0.0301@1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, err := Parse([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if got := values(st); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("values:\n got %q\nwant %q", got, tt.want)
			}
			if len(st.Invalid) != 0 {
				t.Errorf("a sentinel is not a parse error: %v", st.Invalid)
			}
		})
	}
}

// TestSentinelRows: which keys carry which sentinel is data in the key
// table; only numbers have one.
func TestSentinelRows(t *testing.T) {
	want := map[string]Sentinel{
		"transaction_wh": Saturated16, "time_since_charging_start": Saturated16, "sig_current": Saturated16,
		"max_current": Saturated16, "energy_man_current": Saturated16, "current_a": AllOnesMilli,
		"modbus_ev_soc": Saturated16, "modbus_hems_limit": Saturated16, "modbus_operator_limit": Saturated16, "modbus_safe_current": Saturated16,
		"modbus_min_current": Saturated16, "modbus_ev_max_current": Saturated16, "modbus_dlm_slaves": Saturated16, "modbus_dlm_sub_limit": Saturated16,
		"modbus_dlm_operator_sub_limit": Saturated16, "modbus_dlm_applied": Saturated16, "modbus_dlm_available": Saturated16,
	}
	for _, k := range Keys {
		if k.Sentinel != want[k.Key] {
			t.Errorf("%s: sentinel %d, want %d", k.Key, k.Sentinel, want[k.Key])
		}
		if k.Sentinel != AllOnes && k.Kind != Number && k.Kind != List {
			t.Errorf("%s: a sentinel on a %d", k.Key, k.Kind)
		}
	}
}
