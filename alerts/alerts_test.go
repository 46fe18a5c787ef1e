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
		{"test", "rules", "sessions.rules.test.yml"},
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

// TestReadmeAlertTable: the README's alert table lists every alert of the
// rule file with its severity, and nothing else.
func TestReadmeAlertTable(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "| alert | fires when | severity |\n")
	if !ok {
		t.Fatal("README.md: no table | alert | fires when | severity |")
	}
	table, _, _ = strings.Cut(table, "\n\n")
	inReadme := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 3 || strings.HasPrefix(cells[0], "---") {
			continue
		}
		inReadme[strings.TrimSpace(cells[0])] = strings.TrimSpace(cells[len(cells)-1])
	}
	inRules := map[string]string{}
	for _, g := range mustLoad(t, "bender_cc.rules.yml").Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				inRules[r.Alert] = r.Labels["severity"]
			}
		}
	}
	for a, sev := range inRules {
		if got, ok := inReadme[a]; !ok {
			t.Errorf("README.md's alert table lacks %s", a)
		} else if got != sev {
			t.Errorf("README.md: %s has severity %q, the rules %q", a, got, sev)
		}
	}
	for a := range inReadme {
		if _, ok := inRules[a]; !ok {
			t.Errorf("README.md's alert table lists %s, which alerts/bender_cc.rules.yml does not have", a)
		}
	}
}

// TestSessionRulesTested: every rule of the session groups has an exact
// expectation in sessions.rules.test.yml.
func TestSessionRulesTested(t *testing.T) {
	tests, err := os.ReadFile("sessions.rules.test.yml")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range mustLoad(t, "bender_cc.rules.yml").Groups {
		if !strings.HasPrefix(g.Name, "bender_cc.sessions") {
			continue
		}
		for _, r := range g.Rules {
			n++
			if !strings.Contains(string(tests), "- expr: "+r.Record+"\n") {
				t.Errorf("%s (group %s): no test in sessions.rules.test.yml", r.Record, g.Name)
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d session rules", n)
	}
}
