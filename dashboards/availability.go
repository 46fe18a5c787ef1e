package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/table"
)

// The availability series of alerts/bender_cc.rules.yml (README.md, "KPIs").
// The windows of days are recorded once an hour: an instant query reads the
// last of them (lastHourly), the fleet figures sum the per-job-and-site
// hourly minutes.
const objective = `bender_cc:connector_availability:objective`

// siteMinutes is the hourly per-job-and-site sum of the operational, known
// or excluded minutes, of the job and sites picked.
func siteMinutes(kind string) string {
	return `job_site:bender_cc_connector_` + kind + `_minutes:sum1h{` + js + `}`
}

// lastHourly is the last value of an hourly-recorded series: over two
// hours, as a new value is there only once its evaluation has finished (an
// hour and some seconds after the last), or not if one was missed.
func lastHourly(series string) string { return `last_over_time(` + series + `[2h])` }

// fleetShare is the operational share of the known minutes of the job and
// site over a window, from the hourly per-site sums.
func fleetShare(window string) string {
	return `sum(sum_over_time(` + siteMinutes("operational") + `[` + window + `]))` +
		` / sum(sum_over_time(` + siteMinutes("known") + `[` + window + `]))`
}

// availabilitySteps colour an availability: red below NEVI's 97 %, orange
// below PCPR's 99 %, green from 99 %. Grafana's thresholds are numbers;
// the objective itself is a stat of its own.
func availabilitySteps() *dashboard.ThresholdsConfigBuilder {
	return steps("red", 0.97, "orange", 0.99, "green")
}

// fleetAvailability is the fleet dashboard's row of the regulators' figure.
func fleetAvailability(d *dashboard.DashboardBuilder) {
	d.WithRow(dashboard.NewRowBuilder("Availability"))
	follows := " Operational share of the known minutes of every connector of the job and site (not of the controllers picked), as UK PCPR and US NEVI count it: down is OCPP faulted or unavailable outside a declared maintenance window; unknown time counts neither way (README.md, KPIs). Whole hours, from job_site:bender_cc_connector_*_minutes:sum1h."
	for _, w := range []struct{ title, window string }{{"Availability, 30 days", "30d"}, {"Availability, 7 days", "7d"}, {"Availability, 24 hours", "1d"}} {
		d.WithPanel(statPanel(w.title, w.title+"."+follows, "percentunit", fleetShare(w.window), 4, availabilitySteps()).Decimals(2))
	}
	d.WithPanel(statPanel("Objective", "The availability each connector is held to (bender_cc:connector_availability:objective: 0.99 as UK PCPR 2023 reg. 7 by default, 0.97 for US NEVI); the burn-rate alerts read it.", "percentunit",
		objective, 3, neutral()))
	d.WithPanel(statPanel("Below objective", "Connectors of the controllers picked whose 30-day availability is below the objective now.", "none",
		`count(`+lastHourly(`bender_cc:connector_availability:ratio_30d{`+j+`}`)+` < scalar(`+objective+`)) or vector(0)`, 3, badFrom1("orange")))
	d.WithPanel(statPanel("Unknown, 30 days", "Mean share of the last 30 days in which a connector of the controllers picked was not known (not read, no sample): excluded from availability, as the regulators exclude UNKNOWN. A connector not seen for 30 days is not counted.", "percentunit",
		`avg(`+lastHourly(`bender_cc:connector_unknown:ratio_30d{`+j+`}`)+`)`, 3, steps("green", 0.01, "orange")).Decimals(2))
	d.WithPanel(statPanel("Excluded, 30 days", "Connector hours down inside declared maintenance windows in the last 30 days, of the job and site: neither down nor known (README.md, Planned maintenance; NEVI's T_excluded, to report).", "h",
		`sum(sum_over_time(`+siteMinutes("excluded")+`[30d])) / 60 or vector(0)`, 4, neutral()))
	d.WithPanel(timeseriesPanel("Availability per hour", "Operational share of the known minutes of each hour, every connector of the job and site (recorded hourly per job and site), and the objective.", "percentunit", 12,
		q(`sum(last_over_time(`+siteMinutes("operational")+`[2h])) / sum(last_over_time(`+siteMinutes("known")+`[2h]))`, "availability"),
		q(objective, "objective")).
		Interval("1h").Max(1).
		OverrideByName("objective", colorProp("orange")))
	d.WithPanel(leastAvailable())
}

// leastAvailable lists the 20 connectors with the lowest 30-day
// availability, each linking to its controller dashboard.
func leastAvailable() *table.PanelBuilder {
	worst := `bottomk(20, ` + lastHourly(`bender_cc:connector_availability:ratio_30d{`+j+`}`) + `)`
	of := func(series string) *prometheus.DataqueryBuilder {
		return i(lastHourly(series+`{`+j+`}`) + ` and on (job, instance, connector) ` + worst)
	}
	return base(table.NewPanelBuilder(), "Least available connectors, 30 days",
		"The 20 connectors of the controllers picked with the lowest 30-day availability, their unknown and excluded share; a controller links to its dashboard.", "", 12, 8,
		i(worst),
		of(`bender_cc:connector_unknown:ratio_30d`),
		i(`(`+lastHourly(`bender_cc:connector_excluded:ratio_30d{`+j+`}`)+` or 0 * `+lastHourly(`bender_cc:connector_unknown:ratio_30d{`+j+`}`)+`) and on (job, instance, connector) `+worst),
	).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]bool{"Time": true, "job": true, "__name__": true},
			"indexByName":   map[string]int{"instance": 0, "connector": 1, "Value #A": 2},
			"renameByName": map[string]string{"instance": "Controller", "connector": "Connector", "site": "Site",
				"Value #A": "Availability", "Value #B": "Unknown", "Value #C": "Excluded"},
		}}).
		ShowHeader(true).
		Footer(noFooter()).
		SortBy([]cog.Builder[common.TableSortByFieldState]{common.NewTableSortByFieldStateBuilder().DisplayName("Availability")}).
		Unit("percentunit").Decimals(2).
		ColorScheme(byThresholds()).
		Thresholds(availabilitySteps()).
		OverrideByName("Availability", []dashboard.DynamicConfigValue{{Id: "custom.cellOptions", Value: map[string]any{"type": "color-text"}}}).
		OverrideByName("Controller", []dashboard.DynamicConfigValue{{Id: "links", Value: []map[string]any{{
			"title": "Controller dashboard",
			"url":   "/d/bender-cc-controller/bender-cc-controller?${datasource:queryparam}&var-job=${job}&var-instance=${__value.raw}&${__url_time_range}",
		}}}})
}

// controllerAvailability is the controller dashboard's row: each
// connector's figures, its minutes, and its availability over time.
func controllerAvailability(d *dashboard.DashboardBuilder) {
	d.WithRow(dashboard.NewRowBuilder("Availability"))
	ratio := func(w string) string { return `bender_cc:connector_availability:ratio_` + w + `{` + ji + `}` }
	d.WithPanel(base(table.NewPanelBuilder(), "Availability by connector",
		"Per connector (1 the master, 2 the slave): operational share of the known minutes over the last hour, day, 7 and 30 days, as UK PCPR and US NEVI count it (README.md, KPIs), the share of the 30 days that was unknown and that was excluded (down in a declared maintenance window). The windows of days are recorded at each full hour.", "", 10, 6,
		i(ratio("1h")),
		i(lastHourly(ratio("1d"))),
		i(lastHourly(ratio("7d"))),
		i(lastHourly(ratio("30d"))),
		i(lastHourly(`bender_cc:connector_unknown:ratio_30d{`+ji+`}`)),
		i(lastHourly(`bender_cc:connector_excluded:ratio_30d{`+ji+`}`)+` or 0 * `+lastHourly(ratio("30d"))),
	).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]bool{"Time": true, "job": true, "instance": true, "site": true, "__name__": true},
			"indexByName":   map[string]int{"connector": 0},
			"renameByName": map[string]string{"connector": "Connector", "Value #A": "1 hour", "Value #B": "1 day", "Value #C": "7 days",
				"Value #D": "30 days", "Value #E": "Unknown, 30 days", "Value #F": "Excluded, 30 days"},
		}}).
		ShowHeader(true).
		Footer(noFooter()).
		Unit("percentunit").Decimals(2).
		ColorScheme(byThresholds()).
		Thresholds(availabilitySteps()))
	d.WithPanel(timeline("Connector minutes",
		"Each connector, minute by minute: operational (green), down (red: OCPP faulted or unavailable), excluded (blue: down inside a declared maintenance window); a gap is unknown (not read).",
		`bender_cc:connector_operational:minute{`+ji+`} or bender_cc:connector_excluded:minute{`+ji+`} * 2`, "connector {{connector}}", 14, 6).
		Mappings([]dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: map[string]dashboard.ValueMappingResult{
			"0": {Text: ptr("down"), Color: ptr("red")},
			"1": {Text: ptr("operational"), Color: ptr("green")},
			"2": {Text: ptr("excluded"), Color: ptr("blue")},
		}}}}))
	d.WithPanel(timeseriesPanel("Availability over time", "Each connector's availability over the last hour and the last 30 days (the latter recorded at each full hour), and the objective.", "percentunit", 24,
		q(ratio("1h"), "connector {{connector}}, 1 hour"),
		q(lastHourly(ratio("30d")), "connector {{connector}}, 30 days"),
		q(objective, "objective")).
		Max(1).
		OverrideByName("objective", colorProp("orange")))
}
