package alerts

import (
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"

	"github.com/bender-cc/bender_cc_exporter/internal/testenv"
)

const amConfig = "alertmanager.yml.example"

// routes is where alertmanager.yml.example sends each alert of
// bender_cc.rules.yml. A new alert fails TestRoutes until it is added here,
// with the receiver a person who gets it expects.
var routes = map[string]string{
	"BenderCCResidualCurrentTripped":     "bender-cc-pager",
	"BenderCCRCDTripped":                 "bender-cc-pager",
	"BenderCCMCBTripped":                 "bender-cc-pager",
	"BenderCCContactorWelded":            "bender-cc-pager",
	"BenderCCDLMSlavesMissing":           "bender-cc-tickets",
	"BenderCCHeldAtZeroByHEMS":           "bender-cc-low-priority",
	"BenderCCControllerUnreachable":      "bender-cc-tickets",
	"BenderCCSiteDark":                   "bender-cc-tickets",
	"BenderCCProbeScrapeFailing":         "bender-cc-tickets",
	"BenderCCExporterDown":               "bender-cc-tickets",
	"BenderCCExporterProbesFailing":      "bender-cc-tickets",
	"BenderCCExporterConfigReloadFailed": "bender-cc-tickets",
	"BenderCCExporterOverloaded":         "bender-cc-tickets",
	"BenderCCConnectorFaulted":           "bender-cc-tickets",
	"BenderCCBackendDisconnected":        "bender-cc-tickets",
	"BenderCCErrorActive":                "bender-cc-tickets",
	"BenderCCTemperatureHigh":            "bender-cc-tickets",
	"BenderCCChargingStalled":            "bender-cc-tickets",
	"BenderCCEnergyMeterStuck":           "bender-cc-tickets",
	"BenderCCEnergyCounterReset":         "bender-cc-tickets",
	"BenderCCContactorWear":              "bender-cc-low-priority",
	"BenderCCControllerRestarted":        "bender-cc-low-priority",
	"BenderCCIdentityChanged":            "bender-cc-low-priority",
	"BenderCCValuesNotUnderstood":        "bender-cc-low-priority",
}

func TestAlertmanagerConfig(t *testing.T) {
	amtool := testenv.Tool(t, "amtool")
	if out, err := exec.Command(amtool, "check-config", amConfig).CombinedOutput(); err != nil {
		t.Fatalf("amtool check-config %s: %v\n%s", amConfig, err, out)
	}
}

// TestRoutes: amtool config routes test, for every alert with the labels the
// rule gives it (and a controller's job, instance and site), names the
// receiver of the table above.
func TestRoutes(t *testing.T) {
	amtool := testenv.Tool(t, "amtool")
	seen := map[string]bool{}
	var names []string
	for _, g := range mustLoad(t, "bender_cc.rules.yml").Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			seen[r.Alert] = true
			want, ok := routes[r.Alert]
			if !ok {
				t.Errorf("%s has no entry in the routes table of alerts/routes_test.go: where should it go?", r.Alert)
				continue
			}
			labels := []string{"alertname=" + r.Alert, "job=bender_cc", "instance=192.0.2.50", "site=depot-7"}
			for k, v := range r.Labels {
				labels = append(labels, k+"="+v)
			}
			sort.Strings(labels[1:])
			args := append([]string{"config", "routes", "test", "--config.file=" + amConfig}, labels...)
			out, err := exec.Command(amtool, args...).CombinedOutput()
			got := strings.TrimSpace(string(out))
			if err != nil || got != want {
				t.Errorf("%s (%s): routed to %q (%v), want %s", r.Alert, strings.Join(labels[1:], " "), got, err, want)
			}
			names = append(names, r.Alert+" → "+got)
		}
	}
	for a := range routes {
		if !seen[a] {
			t.Errorf("routes table: %s is no alert of bender_cc.rules.yml", a)
		}
	}
	t.Logf("routes:\n%s", strings.Join(names, "\n"))
}

// TestInhibitionsNameRealAlerts: every alert name an inhibition of
// alertmanager.yml.example matches is an alert of bender_cc.rules.yml, so
// that renaming an alert cannot quietly switch its inhibition off.
func TestInhibitionsNameRealAlerts(t *testing.T) {
	b, err := os.ReadFile(amConfig)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		InhibitRules []struct {
			SourceMatchers []string `yaml:"source_matchers"`
			TargetMatchers []string `yaml:"target_matchers"`
			Equal          []string
		} `yaml:"inhibit_rules"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	alerts := map[string]bool{}
	for _, g := range mustLoad(t, "bender_cc.rules.yml").Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts[r.Alert] = true
			}
		}
	}
	m := regexp.MustCompile(`^alertname(=~|=|!~|!=)"(.*)"$`)
	n := 0
	for _, rule := range cfg.InhibitRules {
		for _, matcher := range append(rule.SourceMatchers, rule.TargetMatchers...) {
			parts := m.FindStringSubmatch(matcher)
			if parts == nil {
				continue
			}
			for _, name := range strings.Split(parts[2], "|") {
				if strings.ContainsAny(name, ".*+?[]()") {
					continue // a pattern: BenderCCExporter.*
				}
				n++
				if !alerts[name] {
					t.Errorf("inhibition matcher %s names %s, which alerts/bender_cc.rules.yml does not have", matcher, name)
				}
			}
		}
	}
	if n < 5 {
		t.Errorf("only %d alert names in the inhibitions", n)
	}
}
