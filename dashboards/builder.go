// Package dashboards defines the Grafana dashboards shipped in this folder.
// The JSON files are generated from these definitions
// (go test ./dashboards -update) so that ids, datasource references and
// layout stay consistent; the tests check the files against them.
package dashboards

import "encoding/json"

// ds is how every panel and target refers to the datasource variable.
var ds = map[string]any{"type": "prometheus", "uid": "${datasource}"}

// Target is one PromQL query of a panel.
type Target struct {
	Expr, Legend string
	Instant      bool // table panels: one value per series, as a table
}

// Panel is one Grafana panel.
type Panel struct {
	Type, Title, Description, Unit string
	W, H                           int
	Targets                        []Target
	Options, Custom                map[string]any
	Mappings                       []any
	Transformations                []any
	Decimals                       *int
}

// Dashboard collects panels and lays them out left to right, top to bottom.
type Dashboard struct {
	UID, Title, Description string
	Vars                    []map[string]any
	panels                  []map[string]any
	x, y, rowH              int
}

// Row starts a collapsible section on a new line.
func (d *Dashboard) Row(title string) {
	d.newline()
	d.panels = append(d.panels, map[string]any{
		"type": "row", "title": title, "collapsed": false, "panels": []any{},
		"gridPos": map[string]int{"x": 0, "y": d.y, "w": 24, "h": 1},
	})
	d.y++
}

func (d *Dashboard) newline() {
	if d.x > 0 {
		d.x, d.y, d.rowH = 0, d.y+d.rowH, 0
	}
}

// Add places a panel.
func (d *Dashboard) Add(p Panel) {
	if d.x+p.W > 24 {
		d.newline()
	}
	targets := make([]map[string]any, len(p.Targets))
	for i, t := range p.Targets {
		targets[i] = map[string]any{
			"refId": string(rune('A' + i)), "datasource": ds, "expr": t.Expr, "legendFormat": t.Legend,
			"range": !t.Instant, "instant": t.Instant,
		}
		if t.Instant {
			targets[i]["format"] = "table"
		}
	}
	defaults := map[string]any{"unit": p.Unit}
	if p.Custom != nil {
		defaults["custom"] = p.Custom
	}
	if p.Mappings != nil {
		defaults["mappings"] = p.Mappings
	}
	if p.Decimals != nil {
		defaults["decimals"] = *p.Decimals
	}
	panel := map[string]any{
		"type": p.Type, "title": p.Title, "description": p.Description, "datasource": ds,
		"gridPos":     map[string]int{"x": d.x, "y": d.y, "w": p.W, "h": p.H},
		"targets":     targets,
		"fieldConfig": map[string]any{"defaults": defaults, "overrides": []any{}},
		"options":     p.Options,
	}
	if p.Options == nil {
		panel["options"] = map[string]any{}
	}
	if p.Transformations != nil {
		panel["transformations"] = p.Transformations
	}
	d.panels = append(d.panels, panel)
	d.x += p.W
	d.rowH = max(d.rowH, p.H)
}

// JSON renders the dashboard for import (with __inputs) or provisioning.
func (d *Dashboard) JSON() ([]byte, error) {
	for i, p := range d.panels {
		p["id"] = i + 1
	}
	vars := append([]map[string]any{{
		"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
		"current": map[string]any{}, "hide": 0, "refresh": 1, "regex": "",
	}}, d.Vars...)
	doc := map[string]any{
		"__inputs": []any{map[string]any{
			"name": "DS_PROMETHEUS", "label": "Prometheus", "description": "Prometheus that scrapes bender_cc_exporter",
			"type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus",
		}},
		"__requires": []any{
			map[string]any{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
			map[string]any{"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
		},
		"uid": d.UID, "title": d.Title, "description": d.Description,
		"tags":          []string{"bender_cc", "ev-charging"},
		"editable":      true,
		"graphTooltip":  1,
		"schemaVersion": 39,
		"version":       1,
		"refresh":       "30s",
		"time":          map[string]string{"from": "now-6h", "to": "now"},
		"timezone":      "browser",
		"templating":    map[string]any{"list": vars},
		"annotations":   map[string]any{"list": []any{}},
		"links": []any{map[string]any{
			"title": "Bender CC dashboards", "type": "dashboards", "tags": []string{"bender_cc"}, "asDropdown": true, "includeVars": true, "keepTime": true,
		}},
		"panels": d.panels,
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	return append(b, '\n'), err
}

// queryVar is a template variable filled from a PromQL label_values query.
func queryVar(name, label, query string, multi bool) map[string]any {
	v := map[string]any{
		"name": name, "label": label, "type": "query", "datasource": ds,
		"query":      map[string]any{"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery", "qryType": 1},
		"definition": query, "refresh": 2, "sort": 1, "hide": 0, "includeAll": multi, "multi": multi,
		"current": map[string]any{},
	}
	if multi {
		v["allValue"] = ".+"
	}
	return v
}

// stateTimeline shows which state series is 1 over time.
func stateTimeline(title, desc, expr, legend string, w int) Panel {
	return Panel{
		Type: "state-timeline", Title: title, Description: desc, W: w, H: 5,
		Targets: []Target{{Expr: expr, Legend: legend}},
		Options: map[string]any{"mergeValues": true, "showValue": "never", "rowHeight": 0.8,
			"legend": map[string]any{"showLegend": false}},
		Custom: map[string]any{"fillOpacity": 80, "lineWidth": 0},
		Mappings: []any{map[string]any{"type": "value", "options": map[string]any{
			"0": map[string]any{"text": "no", "color": "transparent"},
			"1": map[string]any{"text": "yes", "color": "green"},
		}}},
	}
}

func stat(title, desc, unit, expr string, w int) Panel {
	return Panel{Type: "stat", Title: title, Description: desc, Unit: unit, W: w, H: 4,
		Targets: []Target{{Expr: expr}},
		Options: map[string]any{"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}}, "colorMode": "value", "graphMode": "area"}}
}

func timeseries(title, desc, unit string, w int, targets ...Target) Panel {
	return Panel{Type: "timeseries", Title: title, Description: desc, Unit: unit, W: w, H: 8, Targets: targets,
		Options: map[string]any{"legend": map[string]any{"displayMode": "list", "placement": "bottom", "showLegend": true},
			"tooltip": map[string]any{"mode": "multi", "sort": "desc"}},
		Custom: map[string]any{"fillOpacity": 10, "lineWidth": 1, "showPoints": "never"}}
}
