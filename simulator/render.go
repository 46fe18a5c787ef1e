package simulator

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// kv is one line of a full_state document.
type kv struct{ key, value string }

// Document renders a state as the controller's firmware would: the key
// names, the order and the spacing of that firmware (see the field notes:
// 5.33 inserts voltage_v after power_w, adds manuf_serial_n and wlan_state
// and renames the RCMB lists).
func (c *Controller) Document(s State) []kv {
	new := c.Firmware == "5.33" // 5.12 and 5.22 write the older document
	fault := s.Fault
	if s.Phase == Idle {
		fault = NoFault // faults strike when a vehicle is there; backend and heat aside
		if s.Fault == BackendLost {
			fault = BackendLost
		}
	}
	conn, auth, ocpp, cp := "no_vehicle_connected", "not_authorized_for_charging", "available", "a"
	switch s.Phase {
	case Connected:
		conn, auth, ocpp, cp = "vehicle_connected_type2", "wait_for_auth", "preparing", "b"
		if s.Authorized {
			auth = "authorized_for_charging"
		}
	case Charging:
		conn, auth, ocpp, cp = "vehicle_charging_type2", "authorized_for_charging", "charging", "c"
	case Finishing:
		conn, auth, ocpp, cp = "vehicle_connected_type2", "authorized_for_charging", "finishing", "b"
	}
	rcmbState, rcd, mcb, errs := "okay", "disable", "okay", []string{}
	switch fault {
	case RCDTrip:
		rcd, ocpp = "triggered", "faulted"
		errs = append(errs, "rcd_triggered")
	case RCMBTrip:
		rcmbState, ocpp = "triggered", "faulted"
		errs = append(errs, "rcmb_triggered")
	case PlugLocking:
		conn, ocpp = "vehicle_connector_error", "faulted"
		errs = append(errs, "plug_locking_failed")
	case ConnectorError:
		conn, ocpp, cp, mcb = "vehicle_connector_error", "faulted", "e", "triggered"
		errs = append(errs, "mcb_type2_triggered")
	case Overheating:
		if s.AmbientTemp > 70 {
			errs = append(errs, "temperature_too_high")
		}
	}
	if len(errs) == 0 {
		errs = append(errs, map[bool]string{false: "no_errors", true: "keine_fehler"}[c.German])
	}
	proximity, cable := "no_cable", "off"
	if c.FixedCable {
		proximity, cable = "cable_attached", "on"
	} else if s.Phase != Idle {
		proximity = s.CableRating
	}
	currents := fmt.Sprintf("%.2f,%.2f,%.2f", s.Currents[0], s.Currents[1], s.Currents[2])
	if !c.ThreePhase {
		currents = fmt.Sprintf("%.2f", s.Currents[0]) // single-phase firmware sends one value
	}
	// Firmware 5.22 writes "rcmb_max_values: 0.0, 0.0", a space after the colon.
	rcmbSep, rcmbMax, rcmbNow := " ", "rcmb_max_values", "rcmb_current_values"
	if new {
		rcmbSep, rcmbMax, rcmbNow = "", "rcmb_max", "rcmb_values"
	}
	display := ""
	if s.Phase == Charging {
		display = fmt.Sprintf("Charging %.1f kW", s.Power/1000)
	}
	itoa := func(f float64) string { return strconv.FormatInt(int64(f), 10) }

	d := make([]kv, 0, 42)
	d = append(d,
		kv{"conn_state", conn}, kv{"auth_state", auth}, kv{"auth_uid", s.AuthUID},
		kv{"time_since_charging_start", itoa(s.SinceChargeStart)},
		kv{"meter_wh", itoa(s.MeterWh)}, kv{"power_w", itoa(s.Power)})
	if new {
		d = append(d, kv{"voltage_v", fmt.Sprintf("%.0f,%.0f,%.0f", s.Voltages[0], s.Voltages[1], s.Voltages[2])})
	}
	d = append(d,
		kv{"transaction_wh", itoa(s.TransactionWh)}, kv{"cp_id", c.ChargePoint}, kv{"ocpp_state", ocpp},
		kv{"type2_state", cp}, kv{"type2_proximity", proximity}, kv{"sig_current", itoa(s.SignaledCurrent)},
		kv{"schuko_state", "idle"}, kv{"backend_conn_state", s.Backend}, kv{"free_charging", "off"},
		kv{"slave_state", ""}, kv{"ocpp_meter_cfg", c.MeterType}, kv{"ocpp_meter_serial", c.MeterSerial},
		kv{"current_a", currents}, kv{"energy_man_current", itoa(c.MaxCurrent)},
		kv{"ambient_temp", fmt.Sprintf("%+.2f", s.AmbientTemp)},
		kv{"firmware_ver", map[string]string{"5.12": "5.12.3-10512", "5.22": "5.22.1-13295", "5.33": "5.33.2-19412"}[c.Firmware]},
		kv{"cc_serial_n", c.Serial})
	if new {
		d = append(d, kv{"manuf_serial_n", c.ManufSerial})
	}
	d = append(d,
		kv{"con_cycles_schuko", "0"}, kv{"con_cycles_type2", strconv.Itoa(s.ContactorCycles)},
		kv{"max_current", itoa(c.MaxCurrent)}, kv{"rcmb_state", rcmbState},
		kv{rcmbMax, rcmbSep + fmt.Sprintf("%.1f, %.1f", s.RCMBMax[0], s.RCMBMax[1])},
		kv{rcmbNow, rcmbSep + fmt.Sprintf("%.1f, %.1f", s.RCMB[0], s.RCMB[1])},
		kv{"cable_attached", cable}, kv{"schuko_cfg", "disable"}, kv{"rcd_state", rcd},
		kv{"mcb_type2_state", mcb}, kv{"mcb_schuko_state", "disable"}, kv{"cp_vendor", c.Vendor},
		kv{"errors", strings.Join(errs, ";")}, kv{"cp_model", c.Model}, kv{"display_text", display})
	if new {
		d = append(d, kv{"wlan_state", "wlan_disconnected"})
	}
	return d
}

// Write renders the document byte for byte: "key:value" lines, the last
// one of firmware 5.22 without a newline, as the real body has it.
func (c *Controller) Write(buf *bytes.Buffer, d []kv) {
	new := c.Firmware == "5.33"
	for i, f := range d {
		buf.WriteString(f.key)
		buf.WriteByte(':')
		buf.WriteString(f.value)
		if i < len(d)-1 || new {
			buf.WriteByte('\n')
		}
	}
}

// Value returns one key's bare value, as GET /rest/<key> answers it.
func Value(d []kv, key string) (string, bool) {
	for _, f := range d {
		if f.key == key {
			return strings.TrimSpace(f.value), true
		}
	}
	return "", false
}
