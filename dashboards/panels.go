package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// statPanel is one number, from an instant query, coloured by th: every stat
// sets its thresholds (Grafana's default, red from 80, would paint a fleet's
// "Controllers up" red and its "Safety trips" green).
func statPanel(title, desc, unit, expr string, w uint32, th *dashboard.ThresholdsConfigBuilder) *stat.PanelBuilder {
	return legendStat(title, desc, unit, expr, "", w, th)
}

// legendStat is a statPanel whose values are named by a legend (one value
// per connector, per limit).
func legendStat(title, desc, unit, expr, legend string, w uint32, th *dashboard.ThresholdsConfigBuilder) *stat.PanelBuilder {
	return base(stat.NewPanelBuilder(), title, desc, unit, w, 4, iv(expr, legend)).
		ReduceOptions(lastValue()).
		ColorMode(common.BigValueColorModeValue).
		GraphMode(common.BigValueGraphModeNone).
		ColorScheme(byThresholds()).
		Thresholds(th)
}

// Colours of the stats: a count that should be 0 (green, then orange or red
// from 1), a count or amount that is neither good nor bad (blue).
var (
	neutral  = func() *dashboard.ThresholdsConfigBuilder { return steps("blue") }
	badFrom1 = func(c string) *dashboard.ThresholdsConfigBuilder { return steps("green", 1.0, c) }
)

func timeseriesPanel(title, desc, unit string, w uint32, targets ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	return base(timeseries.NewPanelBuilder(), title, desc, unit, w, 8, targets...).
		Legend(legend(common.LegendDisplayModeList, common.LegendPlacementBottom)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending)).
		FillOpacity(10).LineWidth(1).ShowPoints(common.VisibilityModeNever).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdPaletteClassic))
}

func stacked(p *timeseries.PanelBuilder) *timeseries.PanelBuilder {
	return p.Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal))
}

// States that mean trouble, and states that mean charging or fine, by the
// series names of the state timelines (the state, or "device: state").
const (
	badStates  = `/^(.*: )?(faulted|vehicle_connector_error|e|triggered|not_connected|not_reacheable|rejected|auth_timeout|unavailable)$/`
	goodStates = `/^(.*: )?(charging|vehicle_charging_.*|c|authorized_for_charging|connected|okay)$/`
)

// stateTimeline shows which state series is 1 over time: trouble red,
// charging or fine green, the rest blue.
func stateTimeline(title, desc, expr, legendFormat string, w uint32) *statetimeline.PanelBuilder {
	return base(statetimeline.NewPanelBuilder(), title, desc, "none", w, 5, q(expr, legendFormat)).
		MergeValues(true).ShowValue(common.VisibilityModeNever).RowHeight(0.8).
		Legend(common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom).ShowLegend(false)).
		FillOpacity(80).LineWidth(0).
		ColorScheme(fixedColor("blue")).
		Mappings([]dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: map[string]dashboard.ValueMappingResult{
			"0": {Text: ptr("no"), Color: ptr("transparent")},
			"1": {Text: ptr("yes")},
		}}}}).
		OverrideByRegexp(goodStates, colorProp("green")).
		OverrideByRegexp(badStates, colorProp("red"))
}

func ptr[T any](v T) *T { return &v }

// noFooter is a table without footer. The SDK's default footer has no
// reducer, which its own strict decoder (and Grafana's schema) refuses.
func noFooter() *common.TableFooterOptionsBuilder {
	return common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"})
}
