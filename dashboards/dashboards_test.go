package dashboards

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/prometheus/promql/parser"
)

var update = flag.Bool("update", false, "rewrite the dashboard JSON files from their definitions")

// TestFilesMatchDefinitions: the committed JSON is what the Go definitions
// generate (go test ./dashboards -update rewrites it).
func TestFilesMatchDefinitions(t *testing.T) {
	for name, def := range All() {
		b, err := Render(def())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
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

// TestStrictDecode: every file, without the UI-import wrapper (__inputs,
// __requires: not part of the dashboard schema), decodes with the SDK's
// strict decoder: no unknown field, no field of the wrong type.
func TestStrictDecode(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	for name := range All() {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		delete(doc, "__inputs")
		delete(doc, "__requires")
		stripped, _ := json.Marshal(doc)
		var d dashboard.Dashboard
		if err := strictErr(d.UnmarshalJSONStrict(stripped)); err != nil {
			t.Errorf("%s: strict decoding: %v", name, err)
			continue
		}
		if d.SchemaVersion != SchemaVersion {
			t.Errorf("%s: schemaVersion %d, README.md says %d", name, d.SchemaVersion, SchemaVersion)
		}
	}
}

// strictErr is the error of an SDK decoder: it returns its error list typed,
// so that no error is a non-nil error holding an empty list.
func strictErr(err error) error {
	if be, ok := err.(cog.BuildErrors); ok && len(be) == 0 {
		return nil
	}
	return err
}

// TestStrictDecoderCatches: the strict decoding above refuses what Grafana
// would silently ignore: an unknown field, a field of the wrong type.
func TestStrictDecoderCatches(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	raw, err := os.ReadFile("bender-cc-fleet.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ from, to string }{
		{`"graphTooltip": 1,`, `"graphTooltip": 1, "graphToolTip": 1,`},
		{`"refresh": "30s",`, `"refresh": 30,`},
		{`"colorMode": "value",`, `"colorMode": "value", "colourMode": "value",`},
	} {
		doc := strings.Replace(string(raw), bad.from, bad.to, 1)
		if doc == string(raw) {
			t.Fatalf("%s not in the file", bad.from)
		}
		var m map[string]json.RawMessage
		_ = json.Unmarshal([]byte(doc), &m)
		delete(m, "__inputs")
		delete(m, "__requires")
		stripped, _ := json.Marshal(m)
		var d dashboard.Dashboard
		if strictErr(d.UnmarshalJSONStrict(stripped)) == nil {
			t.Errorf("%s → %s: decoded without error", bad.from, bad.to)
		}
	}
}

// TestUIDs: the uids provisioned dashboards are found by never change.
func TestUIDs(t *testing.T) {
	want := map[string]string{"bender-cc-fleet.json": "bender-cc-fleet", "bender-cc-controller.json": "bender-cc-controller"}
	for name := range All() {
		f, err := ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if f.UID != want[name] {
			t.Errorf("%s: uid %q, want %q", name, f.UID, want[name])
		}
	}
	if len(All()) != len(want) {
		t.Errorf("%d dashboards, %d uids known", len(All()), len(want))
	}
}

// TestImportInput: the DS_PROMETHEUS input of UI import is used: it is the
// default of the datasource variable, which every panel and query uses.
func TestImportInput(t *testing.T) {
	for name := range All() {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := ReadFile(name)
		if len(f.Inputs) != 1 || f.Inputs[0]["name"] != "DS_PROMETHEUS" || f.Inputs[0]["pluginId"] != "prometheus" {
			t.Errorf("%s: __inputs %v", name, f.Inputs)
		}
		var used bool
		for _, v := range f.Templating.List {
			if v["name"] == "datasource" {
				cur, _ := v["current"].(map[string]any)
				used = cur["value"] == "${DS_PROMETHEUS}"
			}
		}
		if !used || bytes.Count(raw, []byte("${DS_PROMETHEUS}")) < 1 {
			t.Errorf("%s: the datasource variable does not default to ${DS_PROMETHEUS}", name)
		}
	}
}

func TestDashboards(t *testing.T) {
	for name := range All() {
		t.Run(name, func(t *testing.T) {
			f, err := ReadFile(name)
			if err != nil {
				t.Fatalf("not valid JSON: %v", err)
			}
			if f.Title == "" {
				t.Errorf("no title")
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
			if name == "bender-cc-fleet.json" && vars["site"] == "" {
				t.Error("the fleet dashboard wants a site variable")
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
				// Grafana's default thresholds (green, red from 80) colour stats and bar
				// gauges: every one sets its own.
				if p.Type == "stat" || p.Type == "bargauge" {
					th, _ := p.FieldConfig.Defaults["thresholds"].(map[string]any)
					if steps, _ := th["steps"].([]any); len(steps) == 0 {
						t.Errorf("panel %q: no thresholds", p.Title)
					}
				}
				if len(p.Targets) == 0 {
					t.Errorf("panel %q: no query", p.Title)
				}
				for _, tg := range p.Targets {
					queries++
					if tg.Datasource["uid"] != "${datasource}" {
						t.Errorf("panel %q %s: target datasource %v", p.Title, tg.RefID, tg.Datasource)
					}
					// One value per series: stats and tables are instant queries.
					if (p.Type == "stat" || p.Type == "table" || p.Type == "bargauge" || p.Type == "piechart") && (!tg.Instant || tg.Range) {
						t.Errorf("panel %q %s: a %s with a range query", p.Title, tg.RefID, p.Type)
					}
					if strings.TrimSpace(tg.Expr) == "" {
						t.Errorf("panel %q %s: no expr", p.Title, tg.RefID)
						continue
					}
					if strings.Contains(tg.Expr, "rate(") && !strings.Contains(tg.Expr, "$__rate_interval") {
						t.Errorf("panel %q %s: rate without $__rate_interval: %s", p.Title, tg.RefID, tg.Expr)
					}
					// A fleet query over a day or a week of every controller's samples is what
					// made the dashboard slow: those read the hourly recording rules. One
					// controller's per-minute recorded series are few enough.
					if err := longWindowsRecorded(tg.Expr, name == "bender-cc-fleet.json"); err != nil {
						t.Errorf("panel %q %s: %v: %s", p.Title, tg.RefID, err, tg.Expr)
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

// TestColours: counts that should be 0 are green and turn red or orange
// from 1 (not Grafana's default red from 80); the state timelines paint
// trouble red, not every state green.
func TestColours(t *testing.T) {
	type panel struct {
		Type, Title string
		FieldConfig struct {
			Defaults struct {
				Thresholds struct {
					Steps []struct {
						Value *float64
						Color string
					}
				}
			}
			Overrides []struct {
				Matcher    struct{ ID, Options string }
				Properties []struct {
					ID    string
					Value any
				}
			}
		} `json:"fieldConfig"`
	}
	mustBeZero := map[string]bool{"Controllers down": true, "Faulted": true, "Safety trips": true, "Active errors": true}
	for name := range All() {
		raw, _ := os.ReadFile(name)
		var d struct{ Panels []panel }
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		for _, p := range d.Panels {
			steps := p.FieldConfig.Defaults.Thresholds.Steps
			if mustBeZero[p.Title] {
				if len(steps) != 2 || steps[0].Color != "green" || steps[1].Value == nil || *steps[1].Value != 1 || (steps[1].Color != "red" && steps[1].Color != "orange") {
					t.Errorf("%s / %s: thresholds %+v, want green, then red or orange from 1", name, p.Title, steps)
				}
			}
			if p.Type == "state-timeline" {
				red := ""
				for _, o := range p.FieldConfig.Overrides {
					for _, pr := range o.Properties {
						if v, _ := pr.Value.(map[string]any); pr.ID == "color" && v["fixedColor"] == "red" {
							red = o.Matcher.Options
						}
					}
				}
				re, err := regexp.Compile(strings.Trim(red, "/"))
				if red == "" || err != nil || !re.MatchString("faulted") || !re.MatchString("RCMB: triggered") || re.MatchString("charging") || re.MatchString("RCMB: okay") {
					t.Errorf("%s / %s: no red for faulted and triggered states (%q)", name, p.Title, red)
				}
			}
		}
	}
}

// TestProblemsFirst: the fleet's controller table sorts by firing alerts and
// links each controller to its dashboard, with the datasource, job and time.
func TestProblemsFirst(t *testing.T) {
	raw, err := os.ReadFile("bender-cc-fleet.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Type, Title string
			Options     struct {
				SortBy []struct {
					DisplayName string
					Desc        bool
				}
			}
			FieldConfig struct {
				Overrides []struct {
					Matcher    struct{ Options string }
					Properties []struct {
						ID    string
						Value any
					}
				}
			} `json:"fieldConfig"`
		}
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	for _, p := range d.Panels {
		if p.Title != "Controllers" || p.Type != "table" {
			continue
		}
		if len(p.Options.SortBy) != 1 || p.Options.SortBy[0].DisplayName != "Firing alerts" || !p.Options.SortBy[0].Desc {
			t.Errorf("sorted by %+v, want Firing alerts, descending", p.Options.SortBy)
		}
		link := ""
		for _, o := range p.FieldConfig.Overrides {
			for _, pr := range o.Properties {
				if o.Matcher.Options == "Controller" && pr.ID == "links" {
					b, _ := json.Marshal(pr.Value)
					link = string(b)
				}
			}
		}
		for _, want := range []string{"/d/bender-cc-controller/", "var-instance=${__value.raw}", "var-job=${job}", "${datasource:queryparam}", "${__url_time_range}"} {
			if !strings.Contains(link, want) {
				t.Errorf("controller link %s: no %s", link, want)
			}
		}
		return
	}
	t.Error("no Controllers table")
}

var (
	longWindow         = regexp.MustCompile(`\[(1d|7d|\$__range)(:[^\]]*)?\]`)
	longWindowSelector = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{[^}]*\}\[(1d|7d|\$__range)\]`)
	hourlyRule         = regexp.MustCompile(`:(increase|sum|count)1h$`)
)

// longWindowsRecorded says whether every range of a day, a week or the
// dashboard's time range in expr reads a recorded series: an hourly one
// when hourly is set (the fleet dashboard), any (a name with a colon)
// otherwise. A subquery over such a range is refused.
func longWindowsRecorded(expr string, hourly bool) error {
	sels := longWindowSelector.FindAllStringSubmatch(expr, -1)
	if n := len(longWindow.FindAllString(expr, -1)); n != len(sels) {
		return fmt.Errorf("%d long ranges, %d of them over a plain selector", n, len(sels))
	}
	for _, sel := range sels {
		switch name := sel[1]; {
		case hourly && !hourlyRule.MatchString(name):
			return fmt.Errorf("%s of %s, not an hourly recording rule", sel[2], name)
		case !strings.Contains(name, ":"):
			return fmt.Errorf("%s of raw series %s", sel[2], name)
		}
	}
	return nil
}

// TestLongWindowsRecorded: the check above catches raw series, and on the
// fleet dashboard per-minute ones.
func TestLongWindowsRecorded(t *testing.T) {
	for _, tt := range []struct {
		expr   string
		hourly bool
		ok     bool
	}{
		{`sum(sum_over_time(job_site:bender_cc_energy_joules:increase1h{job="x"}[1d]))`, true, true},
		{`sum(sum_over_time(job_site:bender_cc_sessions_ended:sum1h{job="x"}[$__range])) / sum(sum_over_time(job_site:bender_cc_session_energy_joules:count1h{job="x"}[$__range]))`, true, true},
		{`sum(increase(bender_cc_energy_joules_total{job="x"}[7d]))`, true, false},
		{`sum(sum_over_time(bender_cc:connector_sessions_ended:1m{job="x"}[$__range]))`, true, false},
		{`sum(sum_over_time(bender_cc:connector_sessions_ended:1m{job="x"}[$__range]))`, false, true},
		{`sum(increase(bender_cc_energy_joules_total{job="x"}[$__range]))`, false, false},
		{`max_over_time((bender_cc_up == 1)[$__range:])`, false, false},
		{`rate(bender_cc_energy_joules_total{job="x"}[5m])`, true, true},
	} {
		if err := longWindowsRecorded(tt.expr, tt.hourly); (err == nil) != tt.ok {
			t.Errorf("%s (hourly %v): %v, want ok %v", tt.expr, tt.hourly, err, tt.ok)
		}
	}
}

// TestAnnotations: the controller dashboard marks replacements, resets and
// restarts on every panel; each annotation queries the datasource variable
// with PromQL that parses once Grafana has filled in the variables.
func TestAnnotations(t *testing.T) {
	want := map[string][]string{"bender-cc-controller.json": {"Counter went backwards", "Read again after a gap", "Identity changed"}}
	for name := range All() {
		f, err := ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		vars := maps.Clone(Builtins)
		for _, v := range f.Templating.List {
			vars[v["name"].(string)] = "x"
		}
		for _, a := range f.Annotations.List {
			got = append(got, a.Name)
			if a.Datasource["uid"] != "${datasource}" || a.Step == "" {
				t.Errorf("%s / %s: datasource %v, step %q", name, a.Name, a.Datasource, a.Step)
			}
			if _, err := parser.NewParser(parser.Options{}).ParseExpr(Substitute(a.Expr, vars)); err != nil {
				t.Errorf("%s / %s: %v", name, a.Name, err)
			}
		}
		if strings.Join(got, ", ") != strings.Join(want[name], ", ") {
			t.Errorf("%s: annotations %q, want %q", name, got, want[name])
		}
	}
}
