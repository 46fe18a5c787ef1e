package dashboards

import (
	"bytes"
	"flag"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

var update = flag.Bool("update", false, "rewrite the dashboard JSON files from their definitions")

// TestFilesMatchDefinitions: the committed JSON is what the Go definitions
// generate (go test ./dashboards -update rewrites it).
func TestFilesMatchDefinitions(t *testing.T) {
	for name, d := range All() {
		b, err := d.JSON()
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(name, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s differs from its definition; run go test ./dashboards -update", name)
		}
	}
}

func TestDashboards(t *testing.T) {
	uids := map[string]bool{}
	for name := range All() {
		t.Run(name, func(t *testing.T) {
			f, err := ReadFile(name)
			if err != nil {
				t.Fatalf("not valid JSON: %v", err)
			}
			if f.UID == "" || uids[f.UID] || f.Title == "" {
				t.Errorf("uid %q (must be set and unique), title %q", f.UID, f.Title)
			}
			uids[f.UID] = true
			if len(f.Inputs) != 1 || f.Inputs[0]["pluginId"] != "prometheus" {
				t.Errorf("__inputs: %v", f.Inputs)
			}
			vars := maps.Clone(Builtins)
			hasDS := false
			for _, v := range f.Templating.List {
				name := v["name"].(string)
				if v["type"] == "datasource" && name == "datasource" {
					hasDS = true
				}
				vars[name] = "x"
			}
			if !hasDS || vars["job"] == "" || vars["instance"] == "" {
				t.Error("want template variables datasource, job and instance")
			}
			ids := map[int]bool{}
			queries := 0
			for _, p := range f.Panels {
				if ids[p.ID] || p.ID == 0 {
					t.Errorf("panel %q: id %d missing or duplicate", p.Title, p.ID)
				}
				ids[p.ID] = true
				if p.Type == "row" {
					continue
				}
				if p.Datasource["uid"] != "${datasource}" {
					t.Errorf("panel %q: datasource %v, want the ${datasource} variable", p.Title, p.Datasource)
				}
				if p.Description == "" {
					t.Errorf("panel %q: no description", p.Title)
				}
				if _, ok := p.FieldConfig.Defaults["unit"]; !ok && p.Type != "table" {
					t.Errorf("panel %q: no unit", p.Title)
				}
				if len(p.Targets) == 0 {
					t.Errorf("panel %q: no query", p.Title)
				}
				for _, tg := range p.Targets {
					queries++
					if tg.Datasource["uid"] != "${datasource}" {
						t.Errorf("panel %q %s: target datasource %v", p.Title, tg.RefID, tg.Datasource)
					}
					if strings.TrimSpace(tg.Expr) == "" {
						t.Errorf("panel %q %s: no expr", p.Title, tg.RefID)
						continue
					}
					if strings.Contains(tg.Expr, "rate(") && !strings.Contains(tg.Expr, "$__rate_interval") && !strings.Contains(tg.Expr, "[1d]") && !strings.Contains(tg.Expr, "[7d]") && !strings.Contains(tg.Expr, "$__range") {
						t.Errorf("panel %q %s: rate without $__rate_interval: %s", p.Title, tg.RefID, tg.Expr)
					}
					expr := Substitute(tg.Expr, vars)
					if strings.Contains(expr, "$") && !strings.Contains(expr, `"$1"`) && !strings.Contains(expr, `"MCB $1"`) {
						t.Errorf("panel %q %s: unknown variable left in %s", p.Title, tg.RefID, expr)
					}
					if _, err := parser.NewParser(parser.Options{}).ParseExpr(expr); err != nil {
						t.Errorf("panel %q %s: %v\n%s", p.Title, tg.RefID, err, expr)
					}
				}
			}
			if queries < 10 {
				t.Errorf("only %d queries", queries)
			}
			if b, _ := os.ReadFile(name); bytes.Contains(b, []byte(`"uid": "P`)) {
				t.Error("hard-coded datasource uid")
			}
		})
	}
}
