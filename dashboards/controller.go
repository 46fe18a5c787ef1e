package dashboards

// ji selects the one controller of the controller dashboard.
const ji = `job="$job",instance="$instance"`

// Controller is the dashboard of one charge controller.
func Controller() *Dashboard {
	d := &Dashboard{
		UID: "bender-cc-controller", Title: "Bender CC / Controller",
		Description: "One charge controller read by bender_cc_exporter: states, power, currents, safety devices and identity.",
		Vars: []map[string]any{
			queryVar("job", "Job", "label_values(bender_cc_up, job)", false),
			queryVar("instance", "Controller", `label_values(bender_cc_up{job="$job"}, instance)`, false),
		},
	}
	d.Row("State")
	d.Add(stat("Up", "1 if the exporter could read the controller at the last scrape.", "none", `bender_cc_up{`+ji+`}`, 3))
	d.Add(stat("Power", "Charging power now.", "watt", `bender_cc_power_watts{`+ji+`}`, 3))
	d.Add(stat("Session energy", "Energy of the current (or last) charging session.", "kwatth", `bender_cc_transaction_energy_joules{`+ji+`} / 3.6e6`, 3))
	d.Add(stat("Session duration", "Time since the current charging session started.", "s", `bender_cc_charging_duration_seconds{`+ji+`}`, 3))
	d.Add(stat("Meter", "Energy meter reading.", "kwatth", `bender_cc_energy_joules_total{`+ji+`} / 3.6e6`, 4))
	d.Add(stat("Active errors", "Number of error codes the controller reports.", "none", `bender_cc_errors{`+ji+`}`, 4))
	d.Add(stat("Temperature", "Temperature inside the charge point.", "celsius", `bender_cc_ambient_temperature_celsius{`+ji+`}`, 4))
	d.Add(stateTimeline("Connection", "Vehicle connection state (conn_state).", `bender_cc_connection_state{`+ji+`} == 1`, "{{state}}", 12))
	d.Add(stateTimeline("OCPP", "OCPP status (ocpp_state).", `bender_cc_ocpp_state{`+ji+`} == 1`, "{{state}}", 12))
	d.Add(stateTimeline("Type 2 control pilot", "IEC 61851 state: a no vehicle, b connected, c charging, d with ventilation, e error.", `bender_cc_type2_state{`+ji+`} == 1`, "{{state}}", 12))
	d.Add(stateTimeline("Authorization", "Authorization state of the session (auth_state).", `bender_cc_authorization_state{`+ji+`} == 1`, "{{state}}", 12))

	d.Row("Power and currents")
	d.Add(timeseries("Power", "Charging power, and the rate at which the energy meter counts (they agree unless the meter is stuck).", "watt", 12,
		Target{Expr: `bender_cc_power_watts{` + ji + `}`, Legend: "power"},
		Target{Expr: `rate(bender_cc_energy_joules_total{` + ji + `}[$__rate_interval])`, Legend: "meter rate"}))
	d.Add(timeseries("Current per phase", "Charging current on each phase.", "amp", 12,
		Target{Expr: `bender_cc_current_amperes{` + ji + `}`, Legend: "{{phase}}"}))
	d.Add(timeseries("Voltage per phase", "Voltage on each phase (firmware 5.33 and later).", "volt", 12,
		Target{Expr: `bender_cc_voltage_volts{` + ji + `}`, Legend: "{{phase}}"}))
	d.Add(timeseries("Current limits", "Current offered to the vehicle, the limit set by the energy manager and the configured maximum.", "amp", 12,
		Target{Expr: `bender_cc_signaled_current_amperes{` + ji + `}`, Legend: "signaled"},
		Target{Expr: `bender_cc_energy_manager_current_amperes{` + ji + `}`, Legend: "energy manager"},
		Target{Expr: `bender_cc_max_current_amperes{` + ji + `}`, Legend: "maximum"}))
	d.Add(timeseries("Session", "Energy and duration of the charging session.", "kwatth", 12,
		Target{Expr: `bender_cc_transaction_energy_joules{` + ji + `} / 3.6e6`, Legend: "session energy"}))
	d.Add(timeseries("Temperature", "Temperature inside the charge point.", "celsius", 12,
		Target{Expr: `bender_cc_ambient_temperature_celsius{` + ji + `}`, Legend: "ambient"}))

	d.Row("Safety and wear")
	d.Add(timeseries("Residual current (RCMB)", "Residual current per channel, now and the highest measured.", "amp", 12,
		Target{Expr: `bender_cc_rcmb_residual_current_amperes{` + ji + `}`, Legend: "channel {{channel}}"},
		Target{Expr: `bender_cc_rcmb_residual_current_max_amperes{` + ji + `}`, Legend: "channel {{channel}} max"}))
	d.Add(stateTimeline("RCMB, RCD and MCB", "States of the residual current monitor, residual current device and circuit breakers (disable: not fitted).",
		`label_replace(bender_cc_rcmb_state{`+ji+`} == 1, "device", "RCMB", "", "") or label_replace(bender_cc_rcd_state{`+ji+`} == 1, "device", "RCD", "", "") or label_replace(bender_cc_mcb_state{`+ji+`} == 1, "device", "MCB $1", "connector", "(.*)")`,
		"{{device}}: {{state}}", 12))
	d.Add(stat("Contactor cycles", "Switching cycles of each connector's contactor.", "none", `bender_cc_contactor_cycles_total{`+ji+`}`, 6))
	d.Add(stateTimeline("OCPP backend", "Connection to the OCPP backend.", `bender_cc_backend_connection_state{`+ji+`} == 1`, "{{state}}", 18))

	d.Row("Errors and identity")
	d.Add(Panel{Type: "table", Title: "Errors", W: 8, H: 6, Description: "Error codes the controller reports now (errors key).",
		Targets: []Target{{Expr: `bender_cc_error{` + ji + `} or label_replace(bender_cc_errors{` + ji + `} == 0, "error", "none", "", "")`, Instant: true}},
		Transformations: []any{map[string]any{"id": "organize", "options": map[string]any{
			"indexByName": map[string]int{"error": 0}, "excludeByName": map[string]bool{"Time": true, "Value": true, "job": true, "instance": true, "__name__": true}}}}})
	d.Add(Panel{Type: "table", Title: "Identity", W: 16, H: 6, Description: "Vendor, model, firmware, serial numbers, charge point id and energy meter.",
		Targets: []Target{
			{Expr: `bender_cc_info{` + ji + `}`, Instant: true},
			{Expr: `bender_cc_meter_info{` + ji + `}`, Instant: true},
		},
		Transformations: []any{
			map[string]any{"id": "merge", "options": map[string]any{}},
			map[string]any{"id": "organize", "options": map[string]any{"excludeByName": map[string]bool{"Time": true, "Value #A": true, "Value #B": true, "__name__": true}}},
		}})
	return d
}
