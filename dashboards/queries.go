package dashboards

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
)

// Query is one PromQL query of a dashboard file.
type Query struct {
	Panel, RefID, Expr string
	// Event is set for an annotation's query: it marks events (a reset, a
	// restart), so that no data is its usual answer.
	Event bool
}

// File is the part of a dashboard JSON file that the checks read.
type File struct {
	UID        string           `json:"uid"`
	Title      string           `json:"title"`
	Inputs     []map[string]any `json:"__inputs"`
	Templating struct {
		List []map[string]any `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name       string         `json:"name"`
			Expr       string         `json:"expr"`
			Step       string         `json:"step"`
			Datasource map[string]any `json:"datasource"`
		} `json:"list"`
	} `json:"annotations"`
	Panels []struct {
		ID          int            `json:"id"`
		Type        string         `json:"type"`
		Title       string         `json:"title"`
		Description string         `json:"description"`
		Datasource  map[string]any `json:"datasource"`
		FieldConfig struct {
			Defaults map[string]any `json:"defaults"`
		} `json:"fieldConfig"`
		Targets []struct {
			RefID      string         `json:"refId"`
			Expr       string         `json:"expr"`
			Instant    bool           `json:"instant"`
			Range      bool           `json:"range"`
			Datasource map[string]any `json:"datasource"`
		} `json:"targets"`
	} `json:"panels"`
}

// ReadFile parses a dashboard JSON file.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	return &f, json.Unmarshal(b, &f)
}

// Queries lists every query of the dashboard: its panels', then its
// annotations' (Panel "annotation <name>").
func (f *File) Queries() []Query {
	var qs []Query
	for _, p := range f.Panels {
		for _, t := range p.Targets {
			qs = append(qs, Query{Panel: p.Title, RefID: t.RefID, Expr: t.Expr})
		}
	}
	for _, a := range f.Annotations.List {
		qs = append(qs, Query{Panel: "annotation " + a.Name, Expr: a.Expr, Event: true})
	}
	return qs
}

// Substitute replaces Grafana's template variables in a query with values,
// longest name first so that $__range is not taken for $__rate_interval.
func Substitute(expr string, vars map[string]string) string {
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for _, n := range names {
		expr = strings.ReplaceAll(expr, "${"+n+"}", vars[n])
		expr = strings.ReplaceAll(expr, "$"+n, vars[n])
	}
	return expr
}

// Builtins are Grafana's own variables, with values that fit a test.
var Builtins = map[string]string{"__rate_interval": "1m", "__interval": "30s", "__range": "1h"}
