package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/table"
)

// ji selects the one controller of the controller dashboard.
const ji = `job="$job",instance="$instance"`

// Controller is the dashboard of one charge controller.
func Controller() *dashboard.DashboardBuilder {
	d := newDashboard("bender-cc-controller", "Bender CC / Controller",
		"One charge controller read by bender_cc_exporter: states, power, currents, safety devices and identity.").
		WithVariable(queryVar("job", "Job", "label_values(bender_cc_up, job)", false, "")).
		WithVariable(queryVar("instance", "Controller", `label_values(up{job="$job"}, instance)`, false, ""))
	controllerAnnotations(d)

	d.WithRow(dashboard.NewRowBuilder("State"))
	// 0 also while Prometheus cannot scrape the controller's probe (exporter down, request refused).
	d.WithPanel(statPanel("Up", "1 if the exporter could read the controller at the last scrape; 0 if it could not, or if Prometheus could not scrape its probe (exporter down, request refused).", "none",
		`max(bender_cc_up{`+ji+`}) or max(up{`+ji+`}) * 0`, 3, steps("red", 1.0, "green")).
		Mappings([]dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: map[string]dashboard.ValueMappingResult{
			"0": {Text: ptr("down")}, "1": {Text: ptr("up")},
		}}}}))
	d.WithPanel(statPanel("Power", "Charging power now.", "watt", `bender_cc_power_watts{`+ji+`}`, 3, neutral()))
	d.WithPanel(statPanel("Session energy", "Energy of the current (or last) charging session.", "kwatth", `bender_cc_transaction_energy_joules{`+ji+`} / 3.6e6`, 3, neutral()))
	d.WithPanel(statPanel("Session duration", "Time since the current charging session started.", "s", `bender_cc_charging_duration_seconds{`+ji+`}`, 3, neutral()))
	d.WithPanel(statPanel("Meter", "Energy meter reading.", "kwatth", `bender_cc_energy_joules_total{`+ji+`} / 3.6e6`, 4, neutral()))
	d.WithPanel(statPanel("Active errors", "Number of error codes the controller reports.", "none", `bender_cc_errors{`+ji+`}`, 4, badFrom1("orange")))
	d.WithPanel(statPanel("Temperature", "Temperature inside the charge point; BenderCCTemperatureHigh fires above 60 °C.", "celsius", `bender_cc_ambient_temperature_celsius{`+ji+`}`, 4,
		steps("green", 50.0, "orange", 60.0, "red")))
	d.WithPanel(stateTimeline("Connection", "Vehicle connection state (conn_state).", `bender_cc_connection_state{`+ji+`} == 1`, "{{state}}", 12))
	d.WithPanel(stateTimeline("OCPP", "OCPP status (ocpp_state).", `bender_cc_ocpp_state{`+ji+`} == 1`, "{{state}}", 12))
	d.WithPanel(stateTimeline("Type 2 control pilot", "IEC 61851 state: a no vehicle, b connected, c charging, d with ventilation, e error.", `bender_cc_type2_state{`+ji+`} == 1`, "{{state}}", 12))
	d.WithPanel(stateTimeline("Authorization", "Authorization state of the session (auth_state).", `bender_cc_authorization_state{`+ji+`} == 1`, "{{state}}", 12))

	d.WithRow(dashboard.NewRowBuilder("Power and currents"))
	d.WithPanel(timeseriesPanel("Power", "Charging power, and the rate at which the energy meter counts (they agree unless the meter is stuck).", "watt", 12,
		q(`bender_cc_power_watts{`+ji+`}`, "power"),
		q(`rate(bender_cc_energy_joules_total{`+ji+`}[$__rate_interval])`, "meter rate")))
	d.WithPanel(timeseriesPanel("Current per phase", "Charging current on each phase.", "amp", 12,
		q(`bender_cc_current_amperes{`+ji+`}`, "{{phase}}")))
	d.WithPanel(timeseriesPanel("Voltage per phase", "Voltage on each phase (firmware 5.33 and later).", "volt", 12,
		q(`bender_cc_voltage_volts{`+ji+`}`, "{{phase}}")))
	d.WithPanel(timeseriesPanel("Current limits", "Current offered to the vehicle, the limit set by the energy manager and the configured maximum.", "amp", 12,
		q(`bender_cc_signaled_current_amperes{`+ji+`}`, "signaled"),
		q(`bender_cc_energy_manager_current_amperes{`+ji+`}`, "energy manager"),
		q(`bender_cc_max_current_amperes{`+ji+`}`, "maximum")))
	d.WithPanel(limitTimeline())
	d.WithPanel(timeseriesPanel("Session", "Energy and duration of the charging session.", "kwatth", 12,
		q(`bender_cc_transaction_energy_joules{`+ji+`} / 3.6e6`, "session energy")))
	d.WithPanel(timeseriesPanel("Temperature", "Temperature inside the charge point.", "celsius", 12,
		q(`bender_cc_ambient_temperature_celsius{`+ji+`}`, "ambient")))

	controllerSessions(d)

	d.WithRow(dashboard.NewRowBuilder("Safety and wear"))
	d.WithPanel(timeseriesPanel("Residual current (RCMB)", "Residual current per channel, now and the highest measured.", "amp", 12,
		q(`bender_cc_rcmb_residual_current_amperes{`+ji+`}`, "channel {{channel}}"),
		q(`bender_cc_rcmb_residual_current_max_amperes{`+ji+`}`, "channel {{channel}} max")))
	// Each operand is filtered (== 1) and labelled with its device before "or".
	d.WithPanel(stateTimeline("RCMB, RCD and MCB", "States of the residual current monitor, residual current device and circuit breakers (disable: not fitted).",
		`label_replace(bender_cc_rcmb_state{`+ji+`} == 1, "device", "RCMB", "", "") or label_replace(bender_cc_rcd_state{`+ji+`} == 1, "device", "RCD", "", "") or label_replace(bender_cc_mcb_state{`+ji+`} == 1, "device", "MCB $1", "connector", "(.*)")`,
		"{{device}}: {{state}}", 12))
	d.WithPanel(statPanel("Contactor cycles", "Switching cycles of each connector's contactor; BenderCCContactorWear fires above 50,000.", "none", `bender_cc_contactor_cycles_total{`+ji+`}`, 6,
		steps("green", 50000.0, "orange")))
	d.WithPanel(stateTimeline("OCPP backend", "Connection to the OCPP backend.", `bender_cc_backend_connection_state{`+ji+`} == 1`, "{{state}}", 18))

	energyManagement(d)

	d.WithRow(dashboard.NewRowBuilder("Errors and identity"))
	d.WithPanel(base(table.NewPanelBuilder(), "Errors", "Error codes the controller reports now (errors key).", "", 8, 6,
		i(`bender_cc_error{`+ji+`} or label_replace(bender_cc_errors{`+ji+`} == 0, "error", "none", "", "")`)).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"indexByName":   map[string]int{"error": 0},
			"excludeByName": map[string]bool{"Time": true, "Value": true, "job": true, "instance": true, "__name__": true},
		}}).
		ShowHeader(true).
		Footer(noFooter()))
	d.WithPanel(base(table.NewPanelBuilder(), "Identity", "Vendor, model, firmware, serial numbers, charge point id and energy meter.", "", 16, 6,
		i(`bender_cc_info{`+ji+`}`),
		i(`bender_cc_meter_info{`+ji+`}`)).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]bool{"Time": true, "Value #A": true, "Value #B": true, "__name__": true},
		}}).
		ShowHeader(true).
		Footer(noFooter()))
	return d
}
