package collector

import (
	"strings"
	"testing"
)

// documentedKeys are the 41 keys of the manufacturer's Legacy REST API page
// (firmware 5.33), in its order.
var documentedKeys = strings.Fields(`conn_state auth_state auth_uid time_since_charging_start meter_wh
	power_w transaction_wh display_text cp_id ocpp_state type2_state type2_proximity sig_current
	schuko_state backend_conn_state free_charging slave_state ocpp_meter_cfg ocpp_meter_serial current_a
	energy_man_current ambient_temp firmware_ver cc_serial_n manuf_serial_n con_cycles_schuko
	con_cycles_type2 max_current rcmb_state rcmb_max rcmb_values cable_attached schuko_cfg rcd_state
	mcb_type2_state mcb_schuko_state cp_vendor errors cp_model voltage_v wlan_state`)

func TestKeyTableCoversTheDocumentation(t *testing.T) {
	if len(documentedKeys) != 41 {
		t.Fatalf("documentedKeys has %d keys, the manufacturer documents 41", len(documentedKeys))
	}
	for _, k := range append(documentedKeys, "rcmb_max_values", "rcmb_current_values") {
		if _, ok := Lookup(k); !ok {
			t.Errorf("key %q missing from the key table", k)
		}
	}
	rest := 0
	for _, k := range Keys {
		if !k.ModbusOnly {
			rest++
		}
	}
	if rest != 41 {
		t.Errorf("key table has %d full_state rows, want one per documented key (41)", rest)
	}
}

// TestKeyTableIsCoherent catches rows that would panic or emit nonsense.
func TestKeyTableIsCoherent(t *testing.T) {
	infoLabels := map[string]bool{}
	for _, im := range InfoMetrics {
		for _, l := range im.Labels {
			infoLabels[im.Metric+"/"+l] = true
		}
	}
	names := map[string]bool{}
	for _, k := range Keys {
		if names[k.Key] {
			t.Errorf("%s: twice in the table", k.Key)
		}
		names[k.Key] = true
		if k.Kind != Private && k.Metric == "" {
			t.Errorf("%s: no metric", k.Key)
		}
		if k.Kind != Private && k.Kind != Info && k.Help == "" {
			t.Errorf("%s: no help", k.Key)
		}
		switch k.Kind {
		case StateSet:
			if len(k.States) == 0 {
				t.Errorf("%s: state set without states", k.Key)
			}
		case Bool:
			if k.True == "" || k.False == "" {
				t.Errorf("%s: bool without words", k.Key)
			}
		case List:
			if k.ListLabel == "" || len(k.ListValues) == 0 {
				t.Errorf("%s: list without labels", k.Key)
			}
		case Info:
			if !infoLabels[k.Metric+"/"+k.InfoLabel] {
				t.Errorf("%s: info label %s/%s not in InfoMetrics", k.Key, k.Metric, k.InfoLabel)
			}
		}
		if (k.Type == Counter) != strings.HasSuffix(k.Metric, "_total") {
			t.Errorf("%s: counters and only counters end in _total (%s)", k.Key, k.Metric)
		}
	}
}

func TestUnits(t *testing.T) {
	for _, tt := range []struct {
		u    Unit
		x, y float64
	}{{BaseUnit, 16, 16}, {WattHours, 16701, 60123600}, {Milliampere, 6.2, 0.0062}, {Milliampere, 30000, 30}, {Milliampere, 30.1, 0.0301}, {Milliampere, -0.7, -0.0007}} {
		if got := tt.u.ToBase(tt.x); got != tt.y {
			t.Errorf("%v.ToBase(%v) = %v, want %v", tt.u, tt.x, got, tt.y)
		}
	}
}
