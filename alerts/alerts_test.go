package alerts

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/bender-cc/bender_cc_exporter/internal/testenv"
)

func TestPromtool(t *testing.T) {
	p := testenv.Tool(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", "bender_cc.rules.yml"},
		{"test", "rules", "bender_cc.rules.test.yml"},
	} {
		out, err := exec.Command(p, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func TestEveryAlertIsDocumentedAndTested(t *testing.T) {
	runbook, err := os.ReadFile("../docs/runbook.md")
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("bender_cc.rules.test.yml")
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^## (\w+)$`).FindAllStringSubmatch(string(runbook), -1) {
		anchors[strings.ToLower(m[1])] = true
	}
	n := 0
	for _, g := range mustLoad(t, "bender_cc.rules.yml").Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			if s := r.Labels["severity"]; s != "critical" && s != "warning" && s != "info" {
				t.Errorf("%s: severity %q", r.Alert, s)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[a] == "" {
					t.Errorf("%s: no %s", r.Alert, a)
				}
			}
			_, anchor, _ := strings.Cut(r.Annotations["runbook_url"], "#")
			if anchor != strings.ToLower(r.Alert) || !anchors[anchor] {
				t.Errorf("%s: runbook_url anchor %q has no section ## %s in docs/runbook.md", r.Alert, anchor, r.Alert)
			}
			if !strings.Contains(string(tests), "alertname: "+r.Alert+"\n") || strings.Count(string(tests), "alertname: "+r.Alert) < 2 {
				t.Errorf("%s: the rule tests should show it firing and quiet", r.Alert)
			}
		}
	}
	if n < 12 {
		t.Errorf("only %d alerts", n)
	}
}

func mustLoad(t *testing.T, path string) *Rules {
	t.Helper()
	r, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
