package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// energyManagement is the controller dashboard's row for what only the
// Modbus source reads: the chain of limits behind the current a vehicle
// gets (why is this car charging at 6 A?), and its state of charge. A
// REST-only controller shows no data here.
func energyManagement(d *dashboard.DashboardBuilder) {
	d.WithRow(dashboard.NewRowBuilder("Energy management (Modbus)"))
	d.WithPanel(timeseriesPanel("Why this current",
		"The limits on the current a vehicle gets, and what it gets: the energy manager's (HEMS) limit, the operator's limit, what the site's DLM master has left, the most the vehicle and cable take, the minimum below which charging pauses; then the current signalled to the vehicle and drawn per phase. The lowest limit explains the signalled current. Modbus modules only.", "amp", 16,
		q(`bender_cc_hems_current_limit_amperes{`+ji+`}`, "HEMS limit"),
		q(`bender_cc_operator_current_limit_amperes{`+ji+`}`, "operator limit"),
		q(`min by (instance) (bender_cc_dlm_current_available_amperes{`+ji+`})`, "DLM available (master)"),
		q(`bender_cc_ev_max_current_amperes{`+ji+`}`, "vehicle / cable maximum"),
		q(`bender_cc_min_current_amperes{`+ji+`}`, "minimum"),
		q(`bender_cc_signaled_current_amperes{`+ji+`}`, "signalled"),
		q(`bender_cc_current_amperes{`+ji+`}`, "drawn {{phase}}")))
	d.WithPanel(timeseriesPanel("State of charge", "Battery state of charge an ISO 15118 vehicle reports (Modbus register 730, firmware 5.32 and later); no data for other vehicles.", "percentunit", 8,
		q(`bender_cc_ev_state_of_charge_ratio{`+ji+`}`, "state of charge")).
		Min(0).Max(1))
	d.WithPanel(statPanel("Plug locked", "1 if the plug is locked in the socket (Modbus register 152).", "none", `bender_cc_plug_locked{`+ji+`}`, 4, neutral()))
	d.WithPanel(statPanel("Available", "1 if the charge point is set available (Modbus register 124).", "none", `bender_cc_chargepoint_available{`+ji+`}`, 4, steps("red", 1.0, "green")))
	d.WithPanel(statPanel("Safe current", "The current the controller falls back to when its Modbus master (the HEMS) stops communicating (register 131); see the README's safety note.", "amp",
		`bender_cc_modbus_safe_current_amperes{`+ji+`}`, 4, neutral()))
	d.WithPanel(statPanel("Communication timeout", "Time without its Modbus master after which the controller falls back to the safe current (register 132).", "s",
		`bender_cc_modbus_communication_timeout_seconds{`+ji+`}`, 4, neutral()))
	d.WithPanel(stateTimeline("Phase relay", "Phases switched: three_phase, one_phase or off (register 140).", `bender_cc_phase_relay_state{`+ji+`} == 1`, "{{state}}", 8))
}

// dlmSites is the fleet dashboard's row for dynamic load management sites
// (Modbus modules reading DLM masters).
func dlmSites(d *dashboard.DashboardBuilder) {
	d.WithRow(dashboard.NewRowBuilder("DLM sites (Modbus)"))
	d.WithPanel(timeseriesPanel("DLM budget and applied current", "Per DLM master and phase: the current it applies now (summed over its slaves), the operator's limit on the site's distribution and what is left to distribute (Modbus registers 613-615, 630-635). Applied close to the limit means the site's vehicles are being held back.", "amp", 16,
		q(`bender_cc_dlm_current_applied_amperes{`+j+`}`, "{{instance}} applied {{phase}}"),
		q(`bender_cc_dlm_operator_sub_distribution_limit_amperes{`+j+`}`, "{{instance}} limit {{phase}}"),
		q(`bender_cc_dlm_current_available_amperes{`+j+`}`, "{{instance}} available {{phase}}")))
	d.WithPanel(base(bargauge.NewPanelBuilder(), "DLM slaves connected", "Slaves connected to each DLM master now (register 621); BenderCCDLMSlavesMissing fires when a master counts fewer than its most of the last day.", "none", 4, 8,
		iv(`bender_cc_dlm_slaves_connected{`+j+`}`, "{{instance}}")).
		Orientation(common.VizOrientationHorizontal).DisplayMode(common.BarGaugeDisplayModeBasic).
		ReduceOptions(lastValue()).ColorScheme(byThresholds()).Thresholds(steps("blue")))
	d.WithPanel(statPanel("Vehicles held at 0 A by a HEMS", "Vehicles connected while the energy manager's limit (register 1000) is 0 A: waiting for PV surplus, or a HEMS that holds them back.", "none",
		`count((bender_cc_hems_current_limit_amperes{`+j+`} == 0) and on (job, instance) (bender_cc_type2_state{`+j+`,state=~"b|c"} == 1)) or vector(0)`, 4, neutral()))
}
