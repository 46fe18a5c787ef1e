package collector

import "strconv"

// Kind says how the value of a controller key becomes metrics.
type Kind int

// The kinds of key in a full_state document.
const (
	// StateSet is an enum: one series per known state, 1 for the current one.
	StateSet Kind = iota
	// Bool is a two-valued switch (on/off, enable/disable) exported as 0/1.
	Bool
	// Number is a single number, converted from Unit into base units.
	Number
	// List is one to len(ListValues) comma-separated numbers, one series each.
	List
	// Info is one label of an info metric shared by several keys.
	Info
	// Errors is the ';'-separated list of active error codes.
	Errors
	// Private keys are known but never exported (personal data, free text).
	Private
)

// ValueType is the Prometheus type of a numeric metric.
type ValueType int

// The metric types the table uses.
const (
	Gauge ValueType = iota
	Counter
)

// Unit is the unit a controller reports a number in.
type Unit int

// The units controllers use besides base units.
const (
	BaseUnit    Unit = iota // already in the metric's base unit
	WattHours               // Wh → J: × 3600
	Milliampere             // mA → A: ÷ 1000
)

// ToBase converts a reading in u into the base unit of its metric.
func (u Unit) ToBase(x float64) float64 {
	switch u {
	case WattHours:
		return x * 3600
	case Milliampere:
		// Shift the decimal point instead of dividing, so that 30.1 mA is
		// exported as 0.0301 A and not as 0.030100000000000002.
		var buf [40]byte
		b := strconv.AppendFloat(buf[:0], x, 'g', -1, 64)
		y, _ := strconv.ParseFloat(string(append(b, "e-3"...)), 64)
		return y
	}
	return x
}

// KeySpec describes one key of the Legacy REST API and the metric it feeds.
// Adding a key that a new firmware introduces is one more KeySpec in Keys.
type KeySpec struct {
	Key     string   // key as the documented firmware sends it
	Aliases []string // names older firmware uses for the same value
	Kind    Kind
	Metric  string // metric name without the bender_cc_ namespace
	Help    string
	Type    ValueType // Number and List only
	Unit    Unit      // unit the controller sends Number and List values in

	States []string // StateSet: the documented states
	// NumberMetric, for a StateSet, is also exported as a gauge when the
	// value is a number (type2_proximity sends a cable rating such as 32).
	NumberMetric, NumberHelp string

	True, False string // Bool: the two words

	// ZeroIsNoValue, for a Number, exports no sample for an exact 0: the
	// controller sends 0 for a meter it could not read (after a reboot, a
	// meter bus error), and a lone 0 on a counter would count its whole
	// reading again at the next scrape.
	ZeroIsNoValue bool
	// Sentinel names the other "no value" a Number or List of this key can
	// carry besides all-ones (see sentinel.go).
	Sentinel Sentinel

	// Label/LabelValue is a fixed label that tells apart keys sharing a metric.
	Label, LabelValue string
	// ListLabel names the label of each List element; ListValues are its values.
	ListLabel  string
	ListValues []string

	InfoLabel string // Info: label name in the info metric named by Metric

	NoneValues []string // Errors: values meaning "no active error", per UI language

	// ModbusOnly rows come from Modbus registers only: Parse treats such a
	// key in a full_state document as unknown.
	ModbusOnly bool
}

var (
	ocppStates    = []string{"available", "occupied", "reserved", "unavailable", "faulted", "preparing", "charging", "suspendedevse", "suspendedev", "finishing"}
	breakerStates = []string{"disable", "triggered", "okay"}
	phases        = []string{"L1", "L2", "L3"}
	channels      = []string{"1", "2"}
)

const (
	infoM = "info"       // bender_cc_info
	meter = "meter_info" // bender_cc_meter_info
)

// Keys is the table of every key the exporter understands: all 41 keys of the
// manufacturer's documentation (firmware 5.33) and the names older firmware
// uses, then the quantities only Modbus carries (keys_modbus.go).
var Keys = append([]KeySpec{
	{Key: "conn_state", Kind: StateSet, Metric: "connection_state", Help: "Vehicle connection state of the charge point (conn_state).",
		States: []string{"no_vehicle_connected", "vehicle_connected_schuko", "vehicle_charging_schuko", "vehicle_connected_type2", "vehicle_charging_type2", "vehicle_connector_error"}},
	{Key: "auth_state", Kind: StateSet, Metric: "authorization_state", Help: "Authorization state of the current session (auth_state).",
		States: []string{"not_authorized_for_charging", "wait_for_auth", "authorized_for_charging", "auth_timeout"}},
	{Key: "auth_uid", Kind: Private},
	{Key: "time_since_charging_start", Kind: Number, Sentinel: Saturated16, Metric: "charging_duration_seconds", Help: "Time since the current charging session started (time_since_charging_start)."},
	{Key: "meter_wh", Kind: Number, Type: Counter, Unit: WattHours, Metric: "energy_joules_total", ZeroIsNoValue: true, Help: "Energy meter reading in joules (meter_wh x 3600)."},
	{Key: "power_w", Kind: Number, Metric: "power_watts", Help: "Active charging power in watts (power_w)."},
	{Key: "transaction_wh", Kind: Number, Sentinel: Saturated16, Unit: WattHours, Metric: "transaction_energy_joules", Help: "Energy of the current charging session in joules; restarts with each session (transaction_wh x 3600)."},
	{Key: "display_text", Kind: Private},
	{Key: "cp_id", Kind: Info, Metric: infoM, InfoLabel: "chargepoint_id"},
	{Key: "ocpp_state", Kind: StateSet, Metric: "ocpp_state", Help: "OCPP status of the charge point (ocpp_state).", States: ocppStates},
	{Key: "type2_state", Kind: StateSet, Metric: "type2_state", Help: "IEC 61851 control pilot state of the Type 2 connector: a no vehicle, b connected, c charging, d charging with ventilation, e error (type2_state).",
		States: []string{"a", "b", "c", "d", "e"}},
	{Key: "type2_proximity", Kind: StateSet, Metric: "type2_proximity_state", Help: "Proximity pilot state of the Type 2 connector (type2_proximity).",
		States:       []string{"no_cable", "13", "20", "32", "63", "cable_attached", "short_circuit"},
		NumberMetric: "cable_current_limit_amperes", NumberHelp: "Current rating of the attached cable in amperes, when type2_proximity reports one."},
	{Key: "sig_current", Kind: Number, Sentinel: Saturated16, Metric: "signaled_current_amperes", Help: "Current offered to the vehicle through the control pilot in amperes (sig_current)."},
	{Key: "schuko_state", Kind: StateSet, Metric: "schuko_state", Help: "State of the Schuko socket (schuko_state).", States: []string{"idle", "connected", "power_on"}},
	{Key: "backend_conn_state", Kind: StateSet, Metric: "backend_connection_state", Help: "Connection state to the OCPP backend (backend_conn_state).",
		States: []string{"not_connected", "connecting", "connecting_proxy_ok", "connected", "not_reacheable", "rejected", "pending"}},
	{Key: "free_charging", Kind: Bool, Metric: "free_charging", Help: "1 if charging without authorization is enabled (free_charging).", True: "on", False: "off"},
	{Key: "slave_state", Kind: StateSet, Metric: "slave_ocpp_state", Help: "OCPP status of the slave controller of a two-connector charge point (slave_state).", States: ocppStates},
	{Key: "ocpp_meter_cfg", Kind: Info, Metric: meter, InfoLabel: "meter_type"},
	{Key: "ocpp_meter_serial", Kind: Info, Metric: meter, InfoLabel: "meter_serial"},
	{Key: "current_a", Kind: List, Sentinel: AllOnesMilli, Metric: "current_amperes", Help: "Charging current per phase in amperes (current_a).", ListLabel: "phase", ListValues: phases},
	{Key: "energy_man_current", Kind: Number, Sentinel: Saturated16, Metric: "energy_manager_current_amperes", Help: "Current limit set by the energy manager in amperes (energy_man_current)."},
	{Key: "ambient_temp", Kind: Number, Metric: "ambient_temperature_celsius", Help: "Temperature inside the charge point in degrees Celsius (ambient_temp)."},
	{Key: "firmware_ver", Kind: Info, Metric: infoM, InfoLabel: "firmware_version"},
	{Key: "cc_serial_n", Kind: Info, Metric: infoM, InfoLabel: "serial_number"},
	{Key: "manuf_serial_n", Kind: Info, Metric: infoM, InfoLabel: "manufacturer_serial_number"},
	{Key: "con_cycles_schuko", Kind: Number, Type: Counter, Metric: "contactor_cycles_total", Help: "Switching cycles of the connector's contactor (con_cycles_*).", Label: "connector", LabelValue: "schuko"},
	{Key: "con_cycles_type2", Kind: Number, Type: Counter, Metric: "contactor_cycles_total", Help: "Switching cycles of the connector's contactor (con_cycles_*).", Label: "connector", LabelValue: "type2"},
	{Key: "max_current", Kind: Number, Sentinel: Saturated16, Metric: "max_current_amperes", Help: "Maximum charging current configured in amperes (max_current)."},
	{Key: "rcmb_state", Kind: StateSet, Metric: "rcmb_state", Help: "State of the residual current monitor (rcmb_state).", States: []string{"okay", "triggered"}},
	{Key: "rcmb_max", Aliases: []string{"rcmb_max_values"}, Kind: List, Unit: Milliampere, Metric: "rcmb_residual_current_max_amperes",
		Help: "Highest residual current measured by the RCMB per channel in amperes (rcmb_max, older firmware rcmb_max_values).", ListLabel: "channel", ListValues: channels},
	{Key: "rcmb_values", Aliases: []string{"rcmb_current_values"}, Kind: List, Unit: Milliampere, Metric: "rcmb_residual_current_amperes",
		Help: "Residual current measured by the RCMB per channel in amperes (rcmb_values, older firmware rcmb_current_values).", ListLabel: "channel", ListValues: channels},
	{Key: "cable_attached", Kind: Bool, Metric: "cable_attached", Help: "1 if a cable is permanently attached to the charge point (cable_attached).", True: "on", False: "off"},
	{Key: "schuko_cfg", Kind: Bool, Metric: "schuko_enabled", Help: "1 if the Schuko socket is enabled (schuko_cfg).", True: "enable", False: "disable"},
	{Key: "rcd_state", Kind: StateSet, Metric: "rcd_state", Help: "State of the residual current device (rcd_state); disable means not fitted.", States: breakerStates},
	{Key: "mcb_type2_state", Kind: StateSet, Metric: "mcb_state", Help: "State of the connector's miniature circuit breaker (mcb_*_state); disable means not fitted.",
		States: breakerStates, Label: "connector", LabelValue: "type2"},
	{Key: "mcb_schuko_state", Kind: StateSet, Metric: "mcb_state", Help: "State of the connector's miniature circuit breaker (mcb_*_state); disable means not fitted.",
		States: breakerStates, Label: "connector", LabelValue: "schuko"},
	{Key: "cp_vendor", Kind: Info, Metric: infoM, InfoLabel: "vendor"},
	{Key: "errors", Kind: Errors, Metric: "error", Help: "Active error code of the controller (errors), 1 per active code.",
		NoneValues: []string{"no_errors", "keine_fehler"}},
	{Key: "cp_model", Kind: Info, Metric: infoM, InfoLabel: "model"},
	{Key: "voltage_v", Kind: List, Metric: "voltage_volts", Help: "Voltage per phase in volts (voltage_v).", ListLabel: "phase", ListValues: phases},
	{Key: "wlan_state", Kind: StateSet, Metric: "wlan_state", Help: "WLAN connection state (wlan_state).", States: []string{"wlan_disconnected", "wlan_connected"}},
}, modbusKeys...)

// InfoMetrics lists, per info metric, its labels in order and its help.
var InfoMetrics = []struct {
	Metric, Help string
	Labels       []string
}{
	{infoM, "Identity of the charge controller; labels are empty when the controller does not send them.",
		[]string{"vendor", "model", "firmware_version", "serial_number", "manufacturer_serial_number", "chargepoint_id"}},
	{meter, "Energy meter the controller reads (ocpp_meter_cfg, ocpp_meter_serial).", []string{"meter_type", "meter_serial"}},
	{modbusInfo, "Modbus TCP server of the controller: the register set read (5.12, or 5.22 for firmware 5.22 and later) and the protocol version (registers 120-121).",
		[]string{"register_set", "protocol_version"}},
}

// byKey maps every key and alias to its row in Keys; built once.
var byKey = func() map[string]int {
	m := make(map[string]int, len(Keys)+2)
	for i, k := range Keys {
		m[k.Key] = i
		for _, a := range k.Aliases {
			m[a] = i
		}
	}
	return m
}()

// Lookup returns the row for a key or one of its aliases.
func Lookup(key string) (*KeySpec, bool) {
	i, ok := byKey[key]
	if !ok {
		return nil, false
	}
	return &Keys[i], true
}
