package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bender-cc/bender_cc_exporter/internal/testenv"
	"github.com/bender-cc/bender_cc_exporter/simulator"
)

// TestAlertDelivery: Prometheus evaluates the shipped rules (for: shortened
// to 2 s, groups evaluated every second) against simulated controllers and
// sends to a real Alertmanager with alerts/alertmanager.yml.example, which
// delivers to a webhook here. Site a has 10 controllers (3: RCMB tripped,
// 5: overheating, silenced), site b 50 behind one listener that closes.
func TestAlertDelivery(t *testing.T) {
	prom := testenv.Tool(t, "prometheus")
	amBin := testenv.Tool(t, "alertmanager")
	amtool := testenv.Tool(t, "amtool")
	start := time.Now()

	simA, err := simulator.NewFleet(simulator.Options{Controllers: 10, Seed: 7, Firmware: "mixed"})
	if err != nil {
		t.Fatal(err)
	}
	simB, err := simulator.NewFleet(simulator.Options{Controllers: 50, Seed: 8, Firmware: "mixed"})
	if err != nil {
		t.Fatal(err)
	}
	const tripped, hot = 3, 5
	for id, mode := range map[int]string{tripped: "rcmb", hot: "overheat"} {
		spec, _ := simulator.ParseFault(mode)
		simA.SetFault(id, spec)
	}
	srvA, srvB := httptest.NewServer(simA), httptest.NewServer(simB)
	t.Cleanup(srvA.Close)
	t.Cleanup(srvB.Close)
	targets := func(url string, n int) []string {
		var out []string
		for id := 1; id <= n; id++ {
			out = append(out, fmt.Sprintf("%s/cc/%d", url, id))
		}
		return out
	}
	trippedTarget, hotTarget := fmt.Sprintf("%s/cc/%d", srvA.URL, tripped), fmt.Sprintf("%s/cc/%d", srvA.URL, hot)

	hook := newWebhook(t)
	amCfg := alertmanagerConfig(t, hook.srv.URL)
	amDir := t.TempDir()
	am := serve(t, amBin, func(addr string) []string {
		return []string{"--config.file=" + amCfg, "--storage.path=" + amDir, "--web.listen-address=" + addr, "--cluster.listen-address="}
	})
	// The silence is there before the alert: an overheating controller under maintenance.
	if out, err := exec.Command(amtool, "--alertmanager.url=http://"+am, "silence", "add",
		"alertname=BenderCCTemperatureHigh", "instance="+hotTarget, "--comment=maintenance", "--author=e2e", "--duration=1h").CombinedOutput(); err != nil {
		t.Fatalf("amtool silence add: %v\n%s", err, out)
	}

	f := &Fleet{
		StaticConfigs: []map[string]any{
			{"targets": targets(srvA.URL, 10), "labels": map[string]string{"site": "a"}},
			{"targets": targets(srvB.URL, 50), "labels": map[string]string{"site": "b"}},
		},
		RulesFile:    testRules(t, "2s"),
		Alertmanager: am,
	}
	var exporter *os.Process
	f.ExporterAddr, exporter = serveProc(t, buildExporter(t), func(addr string) []string { return []string{"--web.listen-address=" + addr} })
	f.withPrometheus(t, prom)

	t.Run("an RCMB trip pages once, with site, controller and runbook", func(t *testing.T) {
		page := map[string]string{"alertname": "BenderCCResidualCurrentTripped", "instance": trippedTarget}
		Eventually(t, 30*time.Second, func() error {
			if n := hook.with("firing", page); len(n) != 1 {
				return fmt.Errorf("%d pages", len(n))
			}
			return nil
		})
		time.Sleep(5 * time.Second) // two more group intervals of the critical route: no second page
		n := hook.with("firing", page)
		if len(n) != 1 {
			t.Fatalf("%d pages for one trip", len(n))
		}
		p := n[0]
		a := p.Alerts[0]
		if p.Receiver != "bender-cc-pager" || len(p.Alerts) != 1 || a.Labels["severity"] != "critical" || a.Labels["site"] != "a" ||
			a.Labels["instance"] != trippedTarget || !strings.HasSuffix(a.Annotations["runbook_url"], "/docs/runbook.md#benderccresidualcurrenttripped") ||
			!strings.Contains(a.Annotations["description"], "Residual current now: 3") {
			t.Errorf("page: %s", p.Raw)
		}
		t.Logf("the page, as delivered:\n%s", p.Raw)
		// One trip, one alert: nothing else about this controller, anywhere.
		for _, o := range hook.with("", map[string]string{"instance": trippedTarget}) {
			for _, a := range o.Alerts {
				if a.Labels["alertname"] != "BenderCCResidualCurrentTripped" {
					t.Errorf("the tripped controller also notified %s: %s", a.Labels["alertname"], o.Raw)
				}
			}
		}
		if s := f.MustQuery(t, fmt.Sprintf(`ALERTS{alertstate="firing",instance=%q}`, trippedTarget)); len(s) != 1 {
			t.Errorf("firing alerts of the tripped controller: %v", s)
		}
	})

	t.Run("a silenced alert fires but is not delivered", func(t *testing.T) {
		Eventually(t, 30*time.Second, func() error {
			a := amFind(t, am, map[string]string{"alertname": "BenderCCTemperatureHigh", "instance": hotTarget})
			if len(a) != 1 || a[0].Status.State != "suppressed" || len(a[0].Status.SilencedBy) != 1 {
				return fmt.Errorf("in Alertmanager: %+v", a)
			}
			return nil
		})
	})

	t.Run("a dark site of 50 controllers: one notification, the other site's alerts delivered", func(t *testing.T) {
		// A history of success first, so that the share of failed probes
		// (BenderCCExporterProbesFailing, over half) takes a while to cross.
		Eventually(t, 60*time.Second, func() error {
			s, err := f.Query(t, `min(count_over_time(bender_cc_up{site="b"}[1m])) >= 20`)
			if err != nil || len(s) != 1 {
				return fmt.Errorf("waiting for 20 s of site b: %v %v", s, err)
			}
			return nil
		})
		// Site b goes dark the way a site behind a dead LTE router or VPN does:
		// the connections are accepted and nothing ever answers.
		darkFrom := hook.mark()
		hang, _ := simulator.ParseFault("hang")
		for id := 1; id <= 50; id++ {
			simB.SetFault(id, hang)
		}
		dark := map[string]string{"alertname": "BenderCCSiteDark", "site": "b"}
		Eventually(t, 30*time.Second, func() error {
			if n := hook.with("firing", dark); len(n) != 1 {
				return fmt.Errorf("%d BenderCCSiteDark notifications for site b", len(n))
			}
			return nil
		})
		n := hook.with("firing", dark)[0]
		if a := n.Alerts[0]; n.Receiver != "bender-cc-tickets" || len(n.Alerts) != 1 || n.GroupLabels["site"] != "b" ||
			n.GroupLabels["alertname"] != "BenderCCSiteDark" || a.Labels["job"] != "bender_cc" || a.Labels["severity"] != "warning" ||
			a.Annotations["summary"] != "Site b is dark: 50 of 50 controllers cannot be read" ||
			!strings.HasSuffix(a.Annotations["runbook_url"], "/docs/runbook.md#benderccsitedark") {
			t.Errorf("the site's notification: %s", n.Raw)
		}
		t.Logf("the dark site's notification, as delivered:\n%s", n.Raw)

		// The 50 controllers' own alerts fire, and the site alert holds them back.
		siteAlert := amFind(t, am, dark)
		if len(siteAlert) != 1 {
			t.Fatalf("BenderCCSiteDark of site b in Alertmanager: %+v", siteAlert)
		}
		unreachable := map[string]string{"alertname": "BenderCCControllerUnreachable", "site": "b"}
		Eventually(t, 30*time.Second, func() error {
			held := amFind(t, am, unreachable)
			if len(held) != 50 {
				return fmt.Errorf("%d BenderCCControllerUnreachable of site b in Alertmanager", len(held))
			}
			for _, a := range held {
				if a.Status.State != "suppressed" || !slices.Contains(a.Status.InhibitedBy, siteAlert[0].Fingerprint) {
					return fmt.Errorf("%s not held back by the site alert: %+v", a.Labels["instance"], a.Status)
				}
			}
			return nil
		})

		// Meanwhile a controller of site a stops answering on its own: its alert
		// is delivered, the dark site b holds back nothing of site a.
		const lone = 9
		loneTarget := fmt.Sprintf("%s/cc/%d", srvA.URL, lone)
		broken, _ := simulator.ParseFault("500")
		simA.SetFault(lone, broken)
		Eventually(t, 30*time.Second, func() error {
			n := hook.with("firing", map[string]string{"alertname": "BenderCCControllerUnreachable", "instance": loneTarget})
			if len(n) != 1 || n[0].GroupLabels["site"] != "a" || len(n[0].Alerts) != 1 {
				return fmt.Errorf("%d notifications of %s unreachable", len(n), loneTarget)
			}
			return nil
		})

		// By now the site's controllers' alerts have been in Alertmanager for more
		// than a group_wait: since the site went dark, one alert of site b was
		// notified firing, the site's; a safety trip of one of its controllers (a
		// simulated cycle in 30 has one) would page. (Alerts that fired before
		// and resolve now that nothing is read may send their resolved.)
		for _, n := range hook.since(darkFrom) {
			for _, a := range n.Alerts {
				if a.Status == "firing" && a.Labels["site"] == "b" && a.Labels["alertname"] != "BenderCCSiteDark" && a.Labels["severity"] != "critical" {
					t.Errorf("site b also notified %s: %s", a.Labels["alertname"], n.Raw)
				}
			}
		}
		// A dark site is no capacity problem: nothing refused, no overload.
		if s := f.MustQuery(t, `ALERTS{alertname="BenderCCExporterOverloaded"} or sum(bender_cc_exporter_probe_requests_refused_total{reason="overloaded"}) > 0`); len(s) != 0 {
			t.Errorf("the dark site counts as overload: %v", s)
		}
	})

	t.Run("the exporter stops: one alert about it, the probes held back, the trip stays", func(t *testing.T) {
		trips, err := panelValue(t, f, "bender-cc-fleet.json", "Safety trips")
		if err != nil || trips < 1 {
			t.Fatalf("Safety trips before = %v (%v)", trips, err)
		}
		if err := exporter.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = exporter.Signal(syscall.SIGCONT) }()
		Eventually(t, 30*time.Second, func() error {
			if n := hook.with("firing", map[string]string{"alertname": "BenderCCExporterDown"}); len(n) != 1 || len(n[0].Alerts) != 1 {
				return fmt.Errorf("%d BenderCCExporterDown notifications", len(n))
			}
			return nil
		})
		Eventually(t, 20*time.Second, func() error {
			probes := amFind(t, am, map[string]string{"alertname": "BenderCCProbeScrapeFailing", "site": "a"})
			if len(probes) != 10 {
				return fmt.Errorf("%d BenderCCProbeScrapeFailing of site a in Alertmanager", len(probes))
			}
			for _, a := range probes {
				if a.Status.State != "suppressed" || len(a.Status.InhibitedBy) == 0 {
					return fmt.Errorf("%s not held back: %+v", a.Labels["instance"], a.Status)
				}
			}
			return nil
		})
		time.Sleep(6 * time.Second) // past the warning route's group_wait
		if n := hook.with("", map[string]string{"alertname": "BenderCCProbeScrapeFailing"}); len(n) != 0 {
			t.Errorf("probe scrapes notified while the exporter is down: %s", n[0].Raw)
		}
		if n := hook.with("resolved", map[string]string{"alertname": "BenderCCResidualCurrentTripped"}); len(n) != 0 {
			t.Errorf("the trip resolved while nothing can be read: %s", n[0].Raw)
		}
		if v, err := panelValue(t, f, "bender-cc-fleet.json", "Controllers down"); err != nil || v != 60 {
			t.Errorf("Controllers down = %v (%v), want all 60", v, err)
		}
		if v, err := panelValue(t, f, "bender-cc-fleet.json", "Safety trips"); err != nil || v != trips {
			t.Errorf("Safety trips = %v (%v), want %v as before: a trip is not over because nothing can be read", v, err, trips)
		}
	})

	t.Run("the reset trip sends resolved", func(t *testing.T) {
		simA.SetFault(tripped, nil)
		Eventually(t, 45*time.Second, func() error {
			n := hook.with("resolved", map[string]string{"alertname": "BenderCCResidualCurrentTripped", "instance": trippedTarget})
			if len(n) != 1 || n[0].Receiver != "bender-cc-pager" {
				return fmt.Errorf("%d resolved notifications", len(n))
			}
			return nil
		})
	})

	// The inhibitions the simulator cannot produce at once, with alerts as
	// Prometheus sends them (the labels the rules give them).
	t.Run("inhibitions of controllers' own alerts", func(t *testing.T) {
		ctl := func(instance, alertname, severity string, more ...string) map[string]string {
			l := map[string]string{"alertname": alertname, "severity": severity, "job": "bender_cc", "instance": instance, "site": "c"}
			for n := 0; n+1 < len(more); n += 2 {
				l[more[n]] = more[n+1]
				if more[n+1] == "" {
					delete(l, more[n])
				}
			}
			return l
		}
		// A dark site: BenderCCSiteDark as the rules give it (job and site, no instance).
		siteDark := map[string]string{"alertname": "BenderCCSiteDark", "severity": "warning", "job": "bender_cc", "site": "dark"}
		atDark := func(instance, alertname, severity string, more ...string) map[string]string {
			return ctl(instance, alertname, severity, append([]string{"site", "dark"}, more...)...)
		}
		cases := []struct {
			why            string
			source, target map[string]string
		}{
			{"an unreachable controller holds back its own other alerts",
				ctl("c1", "BenderCCControllerUnreachable", "warning", "module", "default"), ctl("c1", "BenderCCBackendDisconnected", "warning")},
			{"a controller whose probe scrape fails holds back its own other alerts",
				ctl("c2", "BenderCCProbeScrapeFailing", "warning"), ctl("c2", "BenderCCControllerRestarted", "info")},
			{"a faulted connector holds back charging stalled",
				ctl("c3", "BenderCCConnectorFaulted", "warning"), ctl("c3", "BenderCCChargingStalled", "warning")},
			{"a tripped safety device holds back its controller's warnings",
				ctl("c4", "BenderCCRCDTripped", "critical"), ctl("c4", "BenderCCErrorActive", "warning", "error", "plug_locking_failed")},
			{"a module whose probes mostly fail holds back its controllers' unreachable alerts",
				map[string]string{"alertname": "BenderCCExporterProbesFailing", "severity": "warning", "job": "bender_cc_exporter", "instance": "exporter:9955", "module": "operator"},
				ctl("c5", "BenderCCControllerUnreachable", "warning", "module", "operator")},
			{"a dark site holds back its controllers' unreachable alerts",
				siteDark, atDark("d1", "BenderCCControllerUnreachable", "warning", "module", "default")},
			{"a dark site holds back its controllers' failed probe scrapes",
				siteDark, atDark("d2", "BenderCCProbeScrapeFailing", "warning")},
			{"a dark site holds back its controllers' restarts",
				siteDark, atDark("d3", "BenderCCControllerRestarted", "info")},
			{"a dark site holds back its controllers' lost backends (the site's network)",
				siteDark, atDark("d4", "BenderCCBackendDisconnected", "warning")},
			{"a dark site holds back its DLM masters' missing slaves (the site's controllers)",
				siteDark, atDark("d5", "BenderCCDLMSlavesMissing", "warning")},
		}
		var post []map[string]any
		for _, c := range cases {
			for _, l := range []map[string]string{c.source, c.target} {
				post = append(post, map[string]any{"labels": l, "startsAt": time.Now().Format(time.RFC3339), "endsAt": time.Now().Add(10 * time.Minute).Format(time.RFC3339)})
			}
		}
		// Controls: the same target alerts of another controller are not held back;
		// a dark site holds back no safety trip, nothing a controller still read
		// reports, nothing of another site, of a controller without a site, or of
		// another job (the site's Modbus job is not dark).
		controls := []map[string]string{ctl("c9", "BenderCCBackendDisconnected", "warning"), ctl("c9", "BenderCCChargingStalled", "warning"),
			atDark("d6", "BenderCCRCDTripped", "critical"), atDark("d7", "BenderCCConnectorFaulted", "warning"),
			ctl("e1", "BenderCCControllerRestarted", "info", "site", "lit"), ctl("n1", "BenderCCControllerRestarted", "info", "site", ""),
			atDark("m1", "BenderCCControllerRestarted", "info", "job", "bender_cc_modbus")}
		for _, l := range controls {
			post = append(post, map[string]any{"labels": l, "startsAt": time.Now().Format(time.RFC3339), "endsAt": time.Now().Add(10 * time.Minute).Format(time.RFC3339)})
		}
		b, _ := json.Marshal(post)
		resp, err := http.Post("http://"+am+"/api/v2/alerts", "application/json", strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /api/v2/alerts: %s", resp.Status)
		}
		for _, c := range cases {
			Eventually(t, 10*time.Second, func() error {
				src, a := amFind(t, am, c.source), amFind(t, am, c.target)
				if len(src) != 1 || len(a) != 1 || a[0].Status.State != "suppressed" || !slices.Contains(a[0].Status.InhibitedBy, src[0].Fingerprint) {
					return fmt.Errorf("%s: %v not held back by %v: %+v", c.why, c.target, c.source, a)
				}
				return nil
			})
		}
		for _, l := range controls {
			if a := amFind(t, am, l); len(a) != 1 || a[0].Status.State != "active" {
				t.Errorf("%v should be active: %+v", l, a)
			}
		}
		time.Sleep(6 * time.Second) // the warning route's group_wait
		for _, c := range cases {
			if n := hook.with("", c.target); len(n) != 0 {
				t.Errorf("%s, but it was delivered: %s", c.why, n[0].Raw)
			}
		}
		if n := hook.with("firing", controls[0]); len(n) != 1 {
			t.Errorf("the control alert was delivered %d times", len(n))
		}
	})

	t.Run("the silence held to the end", func(t *testing.T) {
		if n := hook.with("", map[string]string{"alertname": "BenderCCTemperatureHigh"}); len(n) != 0 {
			t.Errorf("a silenced alert was delivered: %s", n[0].Raw)
		}
		if len(hook.errs) > 0 {
			t.Errorf("webhook bodies that are not JSON: %v", hook.errs)
		}
	})
	t.Logf("delivery test: %s", time.Since(start).Round(time.Second))
}
