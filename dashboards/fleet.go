package dashboards

// j is the selector every fleet query starts from: the job, and the
// controllers picked in the instance variable (all by default).
const j = `job="$job",instance=~"$instance"`

// Fleet is the fleet overview: what is charging, what is broken, what is
// delivered.
func Fleet() *Dashboard {
	d := &Dashboard{
		UID: "bender-cc-fleet", Title: "Bender CC / Fleet",
		Description: "Charge controllers read by bender_cc_exporter: availability, states, power, energy and errors.",
		Vars: []map[string]any{
			queryVar("job", "Job", "label_values(bender_cc_up, job)", false),
			queryVar("instance", "Controllers", `label_values(bender_cc_up{job="$job"}, instance)`, true),
			queryVar("exporter_job", "Exporter job", "label_values(bender_cc_exporter_build_info, job)", false),
		},
	}
	d.Row("Now")
	d.Add(stat("Controllers up", "Controllers whose full_state the exporter could read at the last scrape.", "none",
		`sum(bender_cc_up{`+j+`})`, 3))
	d.Add(stat("Controllers down", "Controllers the exporter could not read (timeout, refused, HTTP error, not a full_state document).", "none",
		`count(bender_cc_up{`+j+`} == 0) or vector(0)`, 3))
	d.Add(stat("Idle", "No vehicle connected.", "none",
		`count(bender_cc_connection_state{`+j+`,state="no_vehicle_connected"} == 1) or vector(0)`, 3))
	d.Add(stat("Connected", "Vehicle connected, not charging (waiting for authorization, paused or finished).", "none",
		`count(bender_cc_connection_state{`+j+`,state=~"vehicle_connected_.*"} == 1) or vector(0)`, 3))
	d.Add(stat("Charging", "Vehicle charging.", "none",
		`count(bender_cc_connection_state{`+j+`,state=~"vehicle_charging_.*"} == 1) or vector(0)`, 3))
	d.Add(stat("Faulted", "OCPP Faulted or connector error: no vehicle can charge there.", "none",
		`count(max by (instance) (bender_cc_ocpp_state{`+j+`,state="faulted"} or bender_cc_connection_state{`+j+`,state="vehicle_connector_error"}) == 1) or vector(0)`, 3))
	d.Add(stat("Power now", "Charging power of the whole fleet.", "watt", `sum(bender_cc_power_watts{`+j+`})`, 3))
	d.Add(stat("Safety trips", "Controllers with a tripped RCMB, RCD or MCB.", "none",
		`count(max by (instance) (bender_cc_rcmb_state{`+j+`,state="triggered"} or bender_cc_rcd_state{`+j+`,state="triggered"} or bender_cc_mcb_state{`+j+`,state="triggered"}) == 1) or vector(0)`, 3))

	d.Row("Energy")
	d.Add(stat("Energy, last 24 hours", "Energy delivered by the fleet in the last 24 hours (from the meters' joule counters).", "kwatth",
		`sum(increase(bender_cc_energy_joules_total{`+j+`}[1d])) / 3.6e6`, 6))
	d.Add(stat("Energy, last 7 days", "Energy delivered by the fleet in the last 7 days.", "kwatth",
		`sum(increase(bender_cc_energy_joules_total{`+j+`}[7d])) / 3.6e6`, 6))
	d.Add(stat("Energy in the time range", "Energy delivered in the dashboard's time range.", "kwatth",
		`sum(increase(bender_cc_energy_joules_total{`+j+`}[$__range])) / 3.6e6`, 6))
	d.Add(stat("Sessions in the time range", "Charging sessions started (contactor closings) in the dashboard's time range.", "none",
		`round(sum(increase(bender_cc_contactor_cycles_total{`+j+`}[$__range])))`, 6))
	d.Add(timeseries("Fleet power", "Total charging power, and energy delivered per hour.", "watt", 12,
		Target{Expr: `sum(bender_cc_power_watts{` + j + `})`, Legend: "power"},
		Target{Expr: `sum(rate(bender_cc_energy_joules_total{` + j + `}[$__rate_interval]))`, Legend: "energy rate (W)"}))
	states := timeseries("Controllers by state", "How many controllers are in each connection state.", "none", 12,
		Target{Expr: `count by (state) (bender_cc_connection_state{` + j + `} == 1)`, Legend: "{{state}}"})
	states.Custom["stacking"] = map[string]any{"mode": "normal"}
	d.Add(states)

	d.Row("Controllers")
	d.Add(Panel{Type: "table", Title: "Controllers", W: 24, H: 10,
		Description: "Every controller: identity, states, power, temperature and number of active errors.",
		Targets: []Target{
			{Expr: `max by (instance, vendor, model, firmware_version) (bender_cc_info{` + j + `})`, Instant: true},
			{Expr: `max by (instance) (bender_cc_up{` + j + `})`, Instant: true},
			{Expr: `max by (instance, connection) (label_replace(bender_cc_connection_state{` + j + `} == 1, "connection", "$1", "state", "(.*)"))`, Instant: true},
			{Expr: `max by (instance, ocpp) (label_replace(bender_cc_ocpp_state{` + j + `} == 1, "ocpp", "$1", "state", "(.*)"))`, Instant: true},
			{Expr: `max by (instance) (bender_cc_power_watts{` + j + `})`, Instant: true},
			{Expr: `max by (instance) (bender_cc_ambient_temperature_celsius{` + j + `})`, Instant: true},
			{Expr: `max by (instance) (bender_cc_errors{` + j + `})`, Instant: true},
		},
		Transformations: []any{
			map[string]any{"id": "merge", "options": map[string]any{}},
			map[string]any{"id": "organize", "options": map[string]any{
				"excludeByName": map[string]bool{"Time": true, "Value #A": true, "Value #C": true, "Value #D": true},
				"renameByName": map[string]string{"instance": "Controller", "vendor": "Vendor", "model": "Model", "firmware_version": "Firmware",
					"Value #B": "Up", "connection": "Connection", "ocpp": "OCPP", "Value #E": "Power (W)", "Value #F": "Temperature (°C)", "Value #G": "Errors"},
			}},
		},
		Options: map[string]any{"showHeader": true, "sortBy": []any{map[string]any{"displayName": "Controller"}}},
	})

	d.Row("Errors, firmware, backend")
	d.Add(Panel{Type: "bargauge", Title: "Top error codes", W: 8, H: 8, Unit: "none",
		Description: "Active error codes across the fleet, and on how many controllers each is active.",
		Targets:     []Target{{Expr: `topk(10, count by (error) (bender_cc_error{` + j + `}))`, Legend: "{{error}}", Instant: true}},
		Options:     map[string]any{"orientation": "horizontal", "displayMode": "basic", "reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}}}})
	d.Add(Panel{Type: "piechart", Title: "Firmware versions", W: 8, H: 8, Unit: "none",
		Description: "Controllers per firmware version.",
		Targets:     []Target{{Expr: `count by (firmware_version) (bender_cc_info{` + j + `})`, Legend: "{{firmware_version}}", Instant: true}},
		Options:     map[string]any{"pieType": "donut", "legend": map[string]any{"displayMode": "table", "placement": "right", "values": []string{"value"}}, "reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}}}})
	d.Add(Panel{Type: "piechart", Title: "OCPP backend connectivity", W: 8, H: 8, Unit: "none",
		Description: "Controllers per OCPP backend connection state (pending is normal for charge points without a backend).",
		Targets:     []Target{{Expr: `count by (state) (bender_cc_backend_connection_state{` + j + `} == 1)`, Legend: "{{state}}", Instant: true}},
		Options:     map[string]any{"pieType": "donut", "legend": map[string]any{"displayMode": "table", "placement": "right", "values": []string{"value"}}, "reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}}}})
	d.Add(timeseries("OCPP states", "How many controllers are in each OCPP state.", "none", 12,
		Target{Expr: `count by (state) (bender_cc_ocpp_state{` + j + `} == 1)`, Legend: "{{state}}"}))
	d.Add(timeseries("Scrape duration", "Time the exporter needed to read each controller; slow controllers or links stand out.", "s", 12,
		Target{Expr: `topk(10, bender_cc_scrape_duration_seconds{` + j + `})`, Legend: "{{instance}}"}))

	// The exporters' own metrics (their /metrics job), across all their instances.
	d.Row("Exporter")
	probes := timeseries("Probes by result", "Probes per second by outcome: success, or the class of failure (docs/metrics.md). Many failures of one class at once have one cause: a rotated password (unauthorized), a VPN down (timeout, connection_failed).", "reqps", 12,
		Target{Expr: `sum by (result) (rate(bender_cc_exporter_probes_total{` + e + `}[$__rate_interval])) > 0`, Legend: "{{result}}"})
	probes.Custom["stacking"] = map[string]any{"mode": "normal"}
	d.Add(probes)
	d.Add(timeseries("Failed probes by module", "Share of probes that failed, per module; over half for 10 minutes fires BenderCCExporterProbesFailing.", "percentunit", 12,
		Target{Expr: `sum by (module) (rate(bender_cc_exporter_probes_total{` + e + `,result!="success"}[$__rate_interval])) / sum by (module) (rate(bender_cc_exporter_probes_total{` + e + `}[$__rate_interval]))`, Legend: "{{module}}"}))
	d.Add(timeseries("Probe duration p95 by module", "95th percentile of the time a probe took, failures included (classic buckets, or the native histogram where Prometheus ingests it). Near the scrape timeout means timeouts to come.", "s", 8,
		Target{Expr: `histogram_quantile(0.95, sum by (module, le) (rate(bender_cc_exporter_probe_duration_seconds_bucket{` + e + `}[$__rate_interval])))` +
			` or histogram_quantile(0.95, sum by (module) (rate(bender_cc_exporter_probe_duration_seconds{` + e + `}[$__rate_interval])))`, Legend: "{{module}}"}))
	d.Add(timeseries("Probes in flight, shared", "Probes being answered now, and probes per second answered from a concurrent probe of the same controller (HA Prometheus pairs, dashboards).", "none", 8,
		Target{Expr: `sum(bender_cc_exporter_probes_in_flight{` + e + `})`, Legend: "in flight"},
		Target{Expr: `sum(rate(bender_cc_exporter_probes_shared_total{` + e + `}[$__rate_interval]))`, Legend: "shared / s"}))
	d.Add(timeseries("Refused /probe requests", "Requests refused before any connection, per second: bad_request (no or invalid target), unknown_module, not_allowed (outside probe.allowed_targets). Steady not_allowed: someone uses /probe as a relay.", "reqps", 8,
		Target{Expr: `sum by (reason) (rate(bender_cc_exporter_probe_requests_refused_total{` + e + `}[$__rate_interval]))`, Legend: "{{reason}}"}))
	return d
}

// e selects the exporters' own metrics.
const e = `job="$exporter_job"`
