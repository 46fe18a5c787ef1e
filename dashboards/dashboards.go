// Package dashboards defines the Grafana dashboards shipped in this folder,
// built with Grafana's foundation SDK (github.com/grafana/grafana-foundation-sdk/go).
// The JSON files are generated from these definitions
// (go test ./dashboards -update); the tests check the files against them and
// decode them with the SDK's strict decoder. The exporter does not import this
// package: the SDK stays out of its binary.
package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// All returns every dashboard's definition by file name.
func All() map[string]func() *dashboard.DashboardBuilder {
	return map[string]func() *dashboard.DashboardBuilder{
		"bender-cc-fleet.json":      Fleet,
		"bender-cc-controller.json": Controller,
	}
}

// SchemaVersion is the dashboard schema the SDK writes; it decides which
// Grafana versions read the files as written (README.md, "Dashboards").
const SchemaVersion = 42

// ds is how every panel and target refers to the datasource variable.
var ds = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// Render builds a dashboard and adds what UI import needs: __inputs (the
// DS_PROMETHEUS the import dialog asks for, the default of the datasource
// variable) and __requires. Panels get their ids in order, rows included.
func Render(b *dashboard.DashboardBuilder) ([]byte, error) {
	d, err := b.Build()
	if err != nil {
		return nil, err
	}
	for i, p := range d.Panels {
		id := uint32(i + 1)
		switch {
		case p.Panel != nil:
			p.Panel.Id = &id
		case p.RowPanel != nil:
			p.RowPanel.Id = id
		}
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	doc["__inputs"] = []any{map[string]any{
		"name": "DS_PROMETHEUS", "label": "Prometheus", "description": "Prometheus that scrapes bender_cc_exporter",
		"type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus",
	}}
	doc["__requires"] = []any{
		map[string]any{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "12.1.0"},
		map[string]any{"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// newDashboard is what both dashboards share: the datasource variable (its
// default is the DS_PROMETHEUS input of UI import), tags, time, refresh, the
// link between them.
func newDashboard(uid, title, description string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags([]string{"bender_cc", "ev-charging"}).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Version(1).
		Refresh("30s").
		Time("now-6h", "now").
		Timezone("browser").
		Link(dashboard.NewDashboardLinkBuilder("Bender CC dashboards").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"bender_cc"}).
			AsDropdown(true).IncludeVars(true).KeepTime(true)).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").
			Label("Data source").
			Type("prometheus").
			Current(dashboard.VariableOption{
				Text:  dashboard.StringOrArrayOfString{String: cog.ToPtr("${DS_PROMETHEUS}")},
				Value: dashboard.StringOrArrayOfString{String: cog.ToPtr("${DS_PROMETHEUS}")},
			}))
}

// queryVar is a template variable filled from a PromQL label_values query;
// a multi-value one has "All" = allValue.
func queryVar(name, label, query string, multi bool, allValue string) *dashboard.QueryVariableBuilder {
	v := dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Datasource(ds).
		Query(dashboard.StringOrMap{Map: map[string]any{"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery", "qryType": 1}}).
		Definition(query).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: cog.ToPtr("")}, Value: dashboard.StringOrArrayOfString{String: cog.ToPtr("")}})
	if multi {
		v = v.Multi(true).IncludeAll(true).AllValue(allValue)
	}
	return v
}

// q is a range query (time series panels), i an instant query: stats and
// tables show one value per series, and an instant query reads only the
// samples of that moment, not one per step of the range.
func q(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(ds).Expr(expr).LegendFormat(legend).Range()
}

func i(expr string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(ds).Expr(expr).Instant().Format(prometheus.PromQueryFormatTable)
}

// iv is an instant query for a stat or bar gauge (one value per series, as a
// time series frame).
func iv(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(ds).Expr(expr).LegendFormat(legend).Instant()
}

// panel is what every panel builder of the SDK offers; base sets it.
type panel[B any] interface {
	cog.Builder[dashboard.Panel]
	Title(string) B
	Description(string) B
	Datasource(common.DataSourceRef) B
	Span(uint32) B
	Height(uint32) B
	Unit(string) B
	WithTarget(cog.Builder[variants.Dataquery]) B
}

// base sets title, description, datasource, size, unit and the queries
// (refIds A, B, …) of a panel.
func base[B panel[B]](b B, title, desc, unit string, w, h uint32, targets ...*prometheus.DataqueryBuilder) B {
	b = b.Title(title).Description(desc).Datasource(ds).Span(w).Height(h)
	if unit != "" {
		b = b.Unit(unit)
	}
	for n, t := range targets {
		b = b.WithTarget(t.RefId(string(rune('A' + n))))
	}
	return b
}

// steps are thresholds: a base colour, then value, colour, value, colour …
func steps(baseColor string, more ...any) *dashboard.ThresholdsConfigBuilder {
	s := []dashboard.Threshold{{Value: nil, Color: baseColor}}
	for n := 0; n+1 < len(more); n += 2 {
		v, ok := more[n].(float64)
		if !ok {
			panic(fmt.Sprintf("threshold value %v is not a float64", more[n]))
		}
		s = append(s, dashboard.Threshold{Value: cog.ToPtr(v), Color: more[n+1].(string)})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(s)
}

func byThresholds() *dashboard.FieldColorBuilder {
	return dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)
}

func fixedColor(c string) *dashboard.FieldColorBuilder {
	return dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdFixed).FixedColor(c)
}

// colorProp is a field override property that paints a field in c.
func colorProp(c string) []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": c}}}
}

func legend(mode common.LegendDisplayMode, placement common.LegendPlacement) *common.VizLegendOptionsBuilder {
	return common.NewVizLegendOptionsBuilder().DisplayMode(mode).Placement(placement).ShowLegend(true)
}

func lastValue() *common.ReduceDataOptionsBuilder {
	return common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})
}
