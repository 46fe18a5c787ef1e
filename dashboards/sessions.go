package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// The session rows read the recording rules of alerts/bender_cc.rules.yml
// (groups bender_cc.sessions and bender_cc.sessions.hourly): the controller
// dashboard the per-minute series of its connectors, the fleet dashboard
// the hourly ones per job and site.

// controllerSessions is the controller dashboard's Sessions row: the
// sessions of the dashboard's time range, per connector (1: the
// controller's own, 2: its slave as slave_state reports it).
func controllerSessions(d *dashboard.DashboardBuilder) {
	d.WithRow(dashboard.NewRowBuilder("Sessions"))
	perConnector := " Per connector: 1 is the controller's own, 2 its slave (slave_state)."
	d.WithPanel(legendStat("Sessions", "Sessions that ended in the time range (a vehicle plugged in, then gone)."+perConnector, "none",
		`sum by (connector) (sum_over_time(bender_cc:connector_sessions_ended:1m{`+ji+`}[$__range]))`+
			` or sum by (connector) (0 * max_over_time(bender_cc:connector_plugged_in:1m{`+ji+`}[$__range]))`, "connector {{connector}}", 4, neutral()))
	d.WithPanel(statPanel("Failed starts", "Authorizations that timed out in the time range: authorized, never charged (auth_timeout; full_state only).", "none",
		`sum(sum_over_time(bender_cc:connector_failed_starts:1m{`+ji+`}[$__range])) or sum(0 * max_over_time(bender_cc:connector_auth_timeout:1m{`+ji+`}[$__range]))`, 4, badFrom1("orange")))
	d.WithPanel(statPanel("Energy per session", "Mean energy of the sessions that ended in the time range, as the controller counts a session's energy (transaction_wh; Modbus 716, or 705 on 5.12). Sessions that delivered nothing count too.", "kwatth",
		`avg(avg_over_time(bender_cc:connector_session_energy_joules:end{`+ji+`}[$__range])) / 3.6e6`, 4, neutral()))
	d.WithPanel(legendStat("Session duration", "Mean time a vehicle was plugged in, over the sessions that ended in the time range (measured by the rules, to the minute)."+perConnector, "s",
		`avg by (connector) (avg_over_time(bender_cc:connector_session_duration_seconds:end{`+ji+`}[$__range]))`, "connector {{connector}}", 4, neutral()))
	d.WithPanel(legendStat("Blocking", "Share of the time plugged in without charging (the vehicle is full, paused or waiting, and blocks the connector), in the time range."+perConnector, "percentunit",
		`1 - sum by (connector) (sum_over_time(bender_cc:connector_charging:1m{`+ji+`}[$__range])) / (sum by (connector) (sum_over_time(bender_cc:connector_plugged_in:1m{`+ji+`}[$__range])) > 0)`,
		"connector {{connector}}", 4, steps("green", 0.5, "orange")))
	d.WithPanel(legendStat("Limited by now", "The limit that holds the current signalled to the vehicle now (bender_cc_current_limited_by; several when they tie).", "none",
		`count by (limit) (bender_cc_current_limited_by{`+ji+`} == 1)`, "{{limit}}", 4, neutral()).
		TextMode(common.BigValueTextModeName))
	d.WithPanel(stateTimeline("Plugged in and charging", "Each connector, minute by minute: a vehicle plugged in, and charging (OCPP charging). Plugged in without charging is blocking.",
		`label_replace(bender_cc:connector_plugged_in:1m{`+ji+`}, "what", "plugged in", "", "") or label_replace(bender_cc:connector_charging:1m{`+ji+`}, "what", "charging", "", "")`,
		"{{connector}}: {{what}}", 24))
	d.WithPanel(points(timeseriesPanel("Energy of each session", "Each point is a session that ended then, with its energy.", "kwatth", 12,
		q(`bender_cc:connector_session_energy_joules:end{`+ji+`} / 3.6e6`, "connector {{connector}}"))))
	d.WithPanel(points(timeseriesPanel("Duration of each session", "Each point is a session that ended then, with the time its vehicle was plugged in.", "s", 12,
		q(`bender_cc:connector_session_duration_seconds:end{`+ji+`}`, "connector {{connector}}"))))
}

// fleetSessions is the fleet dashboard's Sessions row: sessions, failed
// starts, energy and time per session of the job and site, from the hourly
// rules, and what holds the current of the vehicles charging now.
func fleetSessions(d *dashboard.DashboardBuilder) {
	d.WithRow(dashboard.NewRowBuilder("Sessions"))
	hourly := " Follows the job and site, by whole hours (recorded hourly per job and site)."
	sum := func(name string) string {
		return `sum(sum_over_time(job_site:bender_cc_` + name + `{` + js + `}[$__range]))`
	}
	d.WithPanel(statPanel("Sessions", "Sessions that ended in the time range, on every connector (a master's slave connector counts too)."+hourly, "none",
		sum("sessions_ended:sum1h"), 4, neutral()))
	d.WithPanel(statPanel("Failed starts", "Authorizations that timed out in the time range: authorized, never charged (full_state only)."+hourly, "none",
		sum("failed_starts:sum1h"), 4, badFrom1("orange")))
	d.WithPanel(statPanel("Energy per session", "Mean energy of the sessions that ended in the time range, as the controllers count a session's energy."+hourly, "kwatth",
		sum("session_energy_joules:sum1h")+` / (`+sum("session_energy_joules:count1h")+` > 0) / 3.6e6`, 4, neutral()))
	d.WithPanel(statPanel("Session duration", "Mean time a vehicle was plugged in, over the sessions that ended in the time range."+hourly, "s",
		sum("session_duration_seconds:sum1h")+` / (`+sum("session_duration_seconds:count1h")+` > 0)`, 4, neutral()))
	d.WithPanel(statPanel("Blocking", "Share of the time plugged in without charging, in the time range."+hourly, "percentunit",
		sum("blocking_seconds:sum1h")+` / (`+sum("plugged_in_seconds:sum1h")+` > 0)`, 4, steps("green", 0.5, "orange")))
	d.WithPanel(statPanel("Blocking per session", "Time plugged in without charging, per session that ended in the time range."+hourly, "s",
		sum("blocking_seconds:sum1h")+` / (`+sum("sessions_ended:sum1h")+` > 0)`, 4, neutral()))
	// An hourly series has a sample an hour: last_over_time holds it across the hour.
	last := func(name string) string {
		return `sum(last_over_time(job_site:bender_cc_` + name + `{` + js + `}[1h]))`
	}
	d.WithPanel(timeseriesPanel("Sessions per hour", "Sessions started and ended, and failed starts, in each hour (recorded hourly per job and site).", "none", 8,
		q(last("sessions_started:sum1h"), "started"),
		q(last("sessions_ended:sum1h"), "ended"),
		q(last("failed_starts:sum1h"), "failed starts")).
		OverrideByName("failed starts", colorProp("orange")))
	d.WithPanel(timeseriesPanel("Connectors plugged in and blocking", "How many connectors had a vehicle plugged in, and how many of those did not charge, on average over each hour (recorded hourly per job and site).", "none", 8,
		q(last("plugged_in_seconds:sum1h")+` / 3600`, "plugged in"),
		q(last("blocking_seconds:sum1h")+` / 3600`, "blocking")))
	d.WithPanel(base(bargauge.NewPanelBuilder(), "Connectors by binding limit now", "The vehicles charging now (a current signalled), by the limit that holds their current: the cable, max_current, the energy manager, the operator, the DLM master, the vehicle, or other (below every limit the controller shows: a charging profile, derating). A tie counts under each limit.", "none", 8, 8,
		iv(`count by (limit) (bender_cc_current_limited_by{`+j+`,limit!="none"} == 1)`, "{{limit}}")).
		Orientation(common.VizOrientationHorizontal).DisplayMode(common.BarGaugeDisplayModeBasic).
		ReduceOptions(lastValue()).ColorScheme(byThresholds()).Thresholds(steps("blue")))
}

// limitTimeline is the controller dashboard's panel of the binding limit
// over time.
func limitTimeline() *statetimeline.PanelBuilder {
	return stateTimeline("Which limit holds the current", "The limit that holds the current signalled to the vehicle (bender_cc_current_limited_by): cable, max_current, energy_manager, operator, dlm, ev (the last three over Modbus only); other when the current is below every limit the controller shows, none when no current is signalled. Limits that tie show together.",
		`bender_cc_current_limited_by{`+ji+`} == 1`, "{{limit}}", 12)
}

// points draws each sample as a point: event series have one sample per event.
func points(p *timeseries.PanelBuilder) *timeseries.PanelBuilder {
	return p.DrawStyle(common.GraphDrawStylePoints).ShowPoints(common.VisibilityModeAlways).PointSize(8)
}

// controllerAnnotations mark on every panel of the controller dashboard
// when the controller was replaced, reset or restarted: a counter going
// backwards (what BenderCCEnergyCounterReset alerts on, and the contactor
// counter too), a read after it could not be read (BenderCCControllerRestarted),
// a new identity (BenderCCIdentityChanged).
func controllerAnnotations(d *dashboard.DashboardBuilder) {
	for _, a := range []struct{ name, color, expr, title, text string }{
		{"Counter went backwards", "red",
			`label_replace(resets(bender_cc_energy_joules_total{` + ji + `}[2m]) > 0, "counter", "energy meter", "", "") or label_replace(resets(bender_cc_contactor_cycles_total{` + ji + `}[2m]) > 0, "counter", "contactor cycles", "", "")`,
			"{{counter}} {{connector}} went backwards",
			"The controller or its meter was replaced, reset or reconfigured: readings before and after do not add up (increase() counts from the new reading)."},
		{"Read again after a gap", "orange",
			`(bender_cc_up{` + ji + `} == 1) and on (job, instance) (min_over_time(bender_cc_up{` + ji + `}[2m]) == 0)`,
			"Read again (restart?)",
			"The controller could not be read, and now can: a power cut, a watchdog reset or the network."},
		{"Identity changed", "purple",
			`count by (job, instance) (count by (job, instance, vendor, model, firmware_version, serial_number, manufacturer_serial_number, chargepoint_id) (last_over_time(bender_cc_info{` + ji + `}[5m]))) > 1`,
			"New identity",
			"Firmware, model or serial number changed: a firmware update or a swapped controller."},
	} {
		d.Annotation(dashboard.NewAnnotationQueryBuilder().
			Name(a.name).Datasource(ds).Enable(true).IconColor(a.color).
			Expr(a.expr).Step("1m").TitleFormat(a.title).TextFormat(a.text))
	}
}
