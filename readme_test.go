package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"
)

// TestReadmeScrapeConfigs: every scrape config in the README (and docs/)
// gives probe series instance = the controller and a job name that the
// rules' and dashboards' job=~"bender_cc.*" selects.
func TestReadmeScrapeConfigs(t *testing.T) {
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```")
	n := 0
	for _, file := range []string{"README.md", "docs/scaling.md"} {
		doc, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range blocks.FindAllSubmatch(doc, -1) {
			if !strings.Contains(string(m[1]), "scrape_configs:") {
				continue
			}
			var cfg struct {
				ScrapeConfigs []struct {
					JobName     string `yaml:"job_name"`
					MetricsPath string `yaml:"metrics_path"`
					Params      map[string][]string
					Relabel     []struct {
						SourceLabels []string `yaml:"source_labels"`
						TargetLabel  string   `yaml:"target_label"`
					} `yaml:"relabel_configs"`
				} `yaml:"scrape_configs"`
			}
			if err := yaml.Unmarshal(m[1], &cfg); err != nil {
				t.Errorf("%s: a scrape config does not parse: %v\n%s", file, err, m[1])
				continue
			}
			for _, j := range cfg.ScrapeConfigs {
				n++
				if j.MetricsPath != "/probe" {
					if j.JobName != "bender_cc_exporter" {
						t.Errorf("%s: the exporter's own job is %q, want bender_cc_exporter", file, j.JobName)
					}
					continue
				}
				if !regexp.MustCompile(`^bender_cc(_.+)?$`).MatchString(j.JobName) || j.JobName == "bender_cc_exporter" {
					t.Errorf("%s: probe job %q is not matched by the rules' job=~\"bender_cc.*\" (or is the exporter's own job name)", file, j.JobName)
				}
				instance := false
				for _, r := range j.Relabel {
					instance = instance || r.TargetLabel == "instance" && len(r.SourceLabels) == 1 && r.SourceLabels[0] == "__param_target"
				}
				if !instance || len(j.Params["target"]) > 0 {
					t.Errorf("%s: probe job %q does not make the controller its instance (instance from __param_target, targets as __address__)", file, j.JobName)
				}
			}
		}
	}
	if n < 5 {
		t.Errorf("found only %d scrape jobs in the docs", n)
	}
}
