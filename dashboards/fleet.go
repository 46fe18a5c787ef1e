package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/piechart"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/table"
)

// j is the selector every per-controller fleet query starts from: the job,
// the sites and the controllers picked in the variables (all by default).
const j = `job="$job",site=~"$site",instance=~"$instance"`

// js selects the recorded per-job-and-site series (alerts/bender_cc.rules.yml):
// the panels that read them follow the job and site, not single controllers.
const js = `job="$job",site=~"$site"`

// e selects the exporters' own metrics.
const e = `job="$exporter_job"`

// Fleet is the fleet overview: what is charging, what is broken, what is
// delivered. Its stats are instant queries and its aggregates read recording
// rules, so that it stays fast at 5,000 controllers (docs/performance.md).
func Fleet() *dashboard.DashboardBuilder {
	d := newDashboard("bender-cc-fleet", "Bender CC / Fleet",
		"Charge controllers read by bender_cc_exporter: availability, states, power, energy and errors.").
		WithVariable(queryVar("job", "Job", "label_values(bender_cc_up, job)", false, "")).
		WithVariable(queryVar("site", "Site", `label_values(up{job="$job"}, site)`, true, ".*")).
		WithVariable(queryVar("instance", "Controllers", `label_values(up{job="$job",site=~"$site"}, instance)`, true, ".+")).
		WithVariable(queryVar("exporter_job", "Exporter job", "label_values(bender_cc_exporter_build_info, job)", false, ""))

	d.WithRow(dashboard.NewRowBuilder("Now"))
	d.WithPanel(statPanel("Controllers up", "Controllers whose full_state the exporter could read at the last scrape.", "none",
		`sum(bender_cc_up{`+j+`}) or vector(0)`, 3, steps("red", 1.0, "green")))
	d.WithPanel(statPanel("Controllers down", "Controllers the exporter could not read (timeout, refused, HTTP error, not a full_state document), and controllers whose probe Prometheus could not scrape (exporter down, or the request refused).", "none",
		`count((bender_cc_up{`+j+`} == 0) or (up{`+j+`} == 0)) or vector(0)`, 3, badFrom1("red")))
	d.WithPanel(statPanel("Idle", "No vehicle connected.", "none",
		`count(bender_cc_connection_state{`+j+`,state="no_vehicle_connected"} == 1) or vector(0)`, 3, neutral()))
	d.WithPanel(statPanel("Connected", "Vehicle connected, not charging (waiting for authorization, paused or finished).", "none",
		`count(bender_cc_connection_state{`+j+`,state=~"vehicle_connected_.*"} == 1) or vector(0)`, 3, neutral()))
	d.WithPanel(statPanel("Charging", "Vehicle charging.", "none",
		`count(bender_cc_connection_state{`+j+`,state=~"vehicle_charging_.*"} == 1) or vector(0)`, 3, steps("blue", 1.0, "green")))
	// Each state set filtered before "or" (it matches on every label but the name).
	d.WithPanel(statPanel("Faulted", "OCPP Faulted (master or slave connector) or connector error: no vehicle can charge there.", "none",
		`count(max by (job, instance) ((bender_cc_ocpp_state{`+j+`,state="faulted"} == 1) or (bender_cc_slave_ocpp_state{`+j+`,state="faulted"} == 1) or (bender_cc_connection_state{`+j+`,state="vehicle_connector_error"} == 1))) or vector(0)`,
		3, badFrom1("orange")))
	d.WithPanel(statPanel("Power now", "Charging power of the whole fleet.", "watt", `sum(bender_cc_power_watts{`+j+`}) or vector(0)`, 3, neutral()))
	// The last state read, like the alerts: a trip stays counted while the controller cannot be read.
	d.WithPanel(statPanel("Safety trips", "Controllers with a tripped RCMB, RCD or MCB (the last state read in the last hour: a controller that cannot be read now stays counted, like its alert).", "none",
		`count(max by (job, instance) ((last_over_time(bender_cc_rcmb_state{`+j+`,state="triggered"}[1h]) == 1) or (last_over_time(bender_cc_rcd_state{`+j+`,state="triggered"}[1h]) == 1) or (last_over_time(bender_cc_mcb_state{`+j+`,state="triggered"}[1h]) == 1))) or vector(0)`,
		3, badFrom1("red")))

	d.WithRow(dashboard.NewRowBuilder("Energy"))
	energy := "Follows the job and site, not the controllers picked (recorded hourly per job and site: job_site:bender_cc_energy_joules:increase1h)."
	d.WithPanel(statPanel("Energy, last 24 hours", "Energy delivered by the fleet in the last 24 hours, by whole hours. "+energy, "kwatth",
		`sum(sum_over_time(job_site:bender_cc_energy_joules:increase1h{`+js+`}[1d])) / 3.6e6`, 6, neutral()))
	d.WithPanel(statPanel("Energy, last 7 days", "Energy delivered by the fleet in the last 7 days. "+energy, "kwatth",
		`sum(sum_over_time(job_site:bender_cc_energy_joules:increase1h{`+js+`}[7d])) / 3.6e6`, 6, neutral()))
	d.WithPanel(statPanel("Energy in the time range", "Energy delivered in the dashboard's time range, by whole hours. "+energy, "kwatth",
		`sum(sum_over_time(job_site:bender_cc_energy_joules:increase1h{`+js+`}[$__range])) / 3.6e6`, 6, neutral()))
	d.WithPanel(statPanel("Contactor closings in the time range", "Times the contactors closed in the dashboard's time range, by whole hours: a session closes it once, and again after each pause (the Sessions row counts sessions). Follows the job and site (job_site:bender_cc_contactor_cycles:increase1h).", "none",
		`round(sum(sum_over_time(job_site:bender_cc_contactor_cycles:increase1h{`+js+`}[$__range])))`, 6, neutral()))
	d.WithPanel(timeseriesPanel("Fleet power", "Total charging power, and energy delivered per hour, of the job and site (recorded per job and site).", "watt", 12,
		q(`sum(job_site:bender_cc_power_watts:sum{`+js+`})`, "power"),
		q(`sum(job_site:bender_cc_energy_joules:rate5m{`+js+`})`, "energy rate (W)")))
	d.WithPanel(stacked(timeseriesPanel("Controllers by state", "How many controllers of the job and site are in each connection state (recorded per job and site).", "none", 12,
		q(`sum by (state) (job_site_state:bender_cc_connection_state:count{`+js+`})`, "{{state}}"))))

	fleetSessions(d)

	d.WithRow(dashboard.NewRowBuilder("Controllers"))
	d.WithPanel(controllersTable())

	d.WithRow(dashboard.NewRowBuilder("Errors, firmware, backend"))
	d.WithPanel(base(bargauge.NewPanelBuilder(), "Top error codes", "Active error codes across the fleet, and on how many controllers each is active.", "none", 8, 8,
		iv(`topk(10, count by (error) (bender_cc_error{`+j+`}))`, "{{error}}")).
		Orientation(common.VizOrientationHorizontal).DisplayMode(common.BarGaugeDisplayModeBasic).
		ReduceOptions(lastValue()).ColorScheme(byThresholds()).Thresholds(steps("orange")))
	d.WithPanel(pie("Firmware versions", "Controllers per firmware version.",
		iv(`count by (firmware_version) (bender_cc_info{`+j+`})`, "{{firmware_version}}")))
	d.WithPanel(pie("OCPP backend connectivity", "Controllers per OCPP backend connection state (pending is normal for charge points without a backend).",
		iv(`count by (state) (bender_cc_backend_connection_state{`+j+`} == 1)`, "{{state}}")).
		OverrideByName("connected", colorProp("green")).
		OverrideByRegexp(`/^(not_connected|not_reacheable|rejected)$/`, colorProp("red")))
	d.WithPanel(timeseriesPanel("OCPP states", "How many controllers of the job and site are in each OCPP state (recorded per job and site).", "none", 12,
		q(`sum by (state) (job_site_state:bender_cc_ocpp_state:count{`+js+`})`, "{{state}}")).
		OverrideByName("faulted", colorProp("red")))
	d.WithPanel(timeseriesPanel("Scrape duration", "Time the exporter needed to read each controller; slow controllers or links stand out.", "s", 12,
		q(`topk(10, bender_cc_scrape_duration_seconds{`+j+`})`, "{{instance}}")))

	dlmSites(d)

	// The exporters' own metrics (their /metrics job), across all their instances.
	d.WithRow(dashboard.NewRowBuilder("Exporter"))
	d.WithPanel(stacked(timeseriesPanel("Probes by result", "Probes per second by outcome: success, or the class of failure (docs/metrics.md). Many failures of one class at once have one cause: a rotated password (unauthorized), a VPN down (timeout, connection_failed).", "reqps", 12,
		q(`sum by (result) (rate(bender_cc_exporter_probes_total{`+e+`}[$__rate_interval])) > 0`, "{{result}}"))).
		OverrideByName("success", colorProp("green")))
	d.WithPanel(timeseriesPanel("Failed probes by module", "Share of probes that failed, per module; over half for 10 minutes fires BenderCCExporterProbesFailing.", "percentunit", 12,
		q(`sum by (module) (rate(bender_cc_exporter_probes_total{`+e+`,result!="success"}[$__rate_interval])) / sum by (module) (rate(bender_cc_exporter_probes_total{`+e+`}[$__rate_interval]))`, "{{module}}")))
	d.WithPanel(timeseriesPanel("Probe duration p95 by module", "95th percentile of the time a probe took, failures included (classic buckets, or the native histogram where Prometheus ingests it). Near the scrape timeout means timeouts to come.", "s", 8,
		q(`histogram_quantile(0.95, sum by (module, le) (rate(bender_cc_exporter_probe_duration_seconds_bucket{`+e+`}[$__rate_interval])))`+
			` or histogram_quantile(0.95, sum by (module) (rate(bender_cc_exporter_probe_duration_seconds{`+e+`}[$__rate_interval])))`, "{{module}}")))
	d.WithPanel(timeseriesPanel("Probes in flight, shared", "Probes being answered now, and probes per second answered from a concurrent probe of the same controller (HA Prometheus pairs, dashboards).", "none", 8,
		q(`sum(bender_cc_exporter_probes_in_flight{`+e+`})`, "in flight"),
		q(`sum(rate(bender_cc_exporter_probes_shared_total{`+e+`}[$__rate_interval]))`, "shared / s")))
	d.WithPanel(timeseriesPanel("Refused /probe requests", "Requests refused before any connection, per second: bad_request (no or invalid target), unknown_module, not_allowed (outside probe.allowed_targets), overloaded (more than --probe.max-in-flight). Steady not_allowed: someone uses /probe as a relay, or a target is missing from the list.", "reqps", 8,
		q(`sum by (reason) (rate(bender_cc_exporter_probe_requests_refused_total{`+e+`}[$__rate_interval]))`, "{{reason}}")))
	return d
}

func pie(title, desc string, t *prometheus.DataqueryBuilder) *piechart.PanelBuilder {
	return base(piechart.NewPanelBuilder(), title, desc, "none", 8, 8, t).
		PieType(piechart.PieChartTypeDonut).
		Legend(piechart.NewPieChartLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeTable).
			Placement(common.LegendPlacementRight).ShowLegend(true).Values([]piechart.PieChartLegendValues{piechart.PieChartLegendValuesValue})).
		ReduceOptions(lastValue()).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdPaletteClassic))
}

// controllersTable lists every controller, those with firing alerts first,
// each linking to its controller dashboard.
func controllersTable() *table.PanelBuilder {
	return base(table.NewPanelBuilder(), "Controllers",
		"Every controller: firing alerts first, identity, states, power, temperature and number of active errors. A controller links to its dashboard. A controller whose probe Prometheus cannot scrape shows Up 0 and nothing else.", "", 24, 10,
		i(`max by (instance, vendor, model, firmware_version) (bender_cc_info{`+j+`})`),
		i(`max by (instance) (bender_cc_up{`+j+`}) or max by (instance) (up{`+j+`} == 0)`),
		i(`max by (instance, connection) (label_replace(bender_cc_connection_state{`+j+`} == 1, "connection", "$1", "state", "(.*)"))`),
		i(`max by (instance, ocpp) (label_replace(bender_cc_ocpp_state{`+j+`} == 1, "ocpp", "$1", "state", "(.*)"))`),
		i(`max by (instance) (bender_cc_power_watts{`+j+`})`),
		i(`max by (instance) (bender_cc_ambient_temperature_celsius{`+j+`})`),
		i(`max by (instance) (bender_cc_errors{`+j+`})`),
		i(`count by (instance) (ALERTS{alertstate="firing",`+j+`}) or max by (instance) (up{`+j+`}) * 0`),
	).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]bool{"Time": true, "Value #A": true, "Value #C": true, "Value #D": true},
			"indexByName":   map[string]int{"Value #H": 0, "instance": 1},
			"renameByName": map[string]string{"instance": "Controller", "vendor": "Vendor", "model": "Model", "firmware_version": "Firmware",
				"Value #B": "Up", "connection": "Connection", "ocpp": "OCPP", "Value #E": "Power (W)", "Value #F": "Temperature (°C)", "Value #G": "Errors",
				"Value #H": "Firing alerts"},
		}}).
		ShowHeader(true).
		Footer(noFooter()).
		SortBy([]cog.Builder[common.TableSortByFieldState]{common.NewTableSortByFieldStateBuilder().DisplayName("Firing alerts").Desc(true)}).
		ColorScheme(byThresholds()).
		Thresholds(steps("green")).
		OverrideByName("Controller", []dashboard.DynamicConfigValue{{Id: "links", Value: []map[string]any{{
			"title": "Controller dashboard",
			"url":   "/d/bender-cc-controller/bender-cc-controller?${datasource:queryparam}&var-job=${job}&var-instance=${__value.raw}&${__url_time_range}",
		}}}}).
		OverrideByName("Firing alerts", []dashboard.DynamicConfigValue{
			{Id: "thresholds", Value: map[string]any{"mode": "absolute", "steps": []map[string]any{{"color": "green", "value": nil}, {"color": "red", "value": 1}}}},
			{Id: "custom.cellOptions", Value: map[string]any{"type": "color-background"}},
		}).
		OverrideByName("Up", []dashboard.DynamicConfigValue{
			{Id: "mappings", Value: []map[string]any{{"type": "value", "options": map[string]any{
				"0": map[string]any{"text": "down", "color": "red"}, "1": map[string]any{"text": "up", "color": "green"}}}}},
			{Id: "custom.cellOptions", Value: map[string]any{"type": "color-text"}},
		})
}
