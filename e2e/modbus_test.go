package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/bender-cc/bender_cc_exporter/internal/loopback"
	"github.com/bender-cc/bender_cc_exporter/simulator"
)

// ModbusSite is a simulated DLM site that speaks Modbus TCP, scraped by the
// end-to-end Prometheus as the README's "Modbus TCP" job.
type ModbusSite struct {
	Sim     *simulator.Fleet
	Addrs   []string // host:port of controller i+1
	Servers []*simulator.ModbusServer
}

// modbusSiteSize is the controllers of the Modbus site: two DLM sites of
// three (controllers 1 and 4 the masters).
const modbusSiteSize = 6

// startModbusSite starts a site on a seed whose life, from now on for the
// length of a test, has an ISO 15118 vehicle connected to one controller
// (so that the state of charge has data) and vehicles charging on the DLM
// slaves: the lives are deterministic from their start, so the seed is
// found by asking the simulator, not by luck.
func startModbusSite(t *testing.T) *ModbusSite {
	t.Helper()
	now := time.Now()
	for seed := uint64(1); seed < 500; seed++ {
		sim, err := simulator.NewFleet(simulator.Options{Controllers: modbusSiteSize, Seed: seed, Firmware: "5.33", DLMSiteSize: 3, Start: now})
		if err != nil {
			t.Fatal(err)
		}
		if !isoVehicleThroughout(sim, now, 4*time.Minute) {
			continue
		}
		site := &ModbusSite{Sim: sim}
		for id := 1; id <= sim.Len(); id++ {
			addr, err := loopback.FreeAddr()
			if err != nil {
				t.Fatal(err)
			}
			srv, err := sim.ServeModbus(id, addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = srv.Stop() })
			site.Addrs, site.Servers = append(site.Addrs, addr), append(site.Servers, srv)
		}
		t.Logf("Modbus site: seed %d, %v", seed, site.Addrs)
		return site
	}
	t.Fatal("no seed gives a Modbus site with an ISO 15118 vehicle for the test")
	return nil
}

func isoVehicleThroughout(sim *simulator.Fleet, from time.Time, d time.Duration) bool {
	for id := 1; id <= sim.Len(); id++ {
		c, ok := sim.Controller(id), true
		for at := from; at.Before(from.Add(d)) && ok; at = at.Add(10 * time.Second) {
			ok = c.Registers(c.StateAt(at), at, simulator.DLMDisabled, nil)[740] == 1
		}
		if ok {
			return true
		}
	}
	return false
}

// exporterConfig writes the exporter's config for the end-to-end run: the
// default module and the README's kind of Modbus module.
func exporterConfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(p, []byte("modules:\n  default: {timeout: 10s}\n  modbus: {source: modbus, timeout: 5s}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// modbusJob is the README's Modbus scrape config (the one yaml block of its
// "Modbus TCP" section with scrape_configs) for the site's controllers.
func (f *Fleet) modbusJob(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n## Modbus TCP\n")
	if i < 0 {
		t.Fatal("README.md has no Modbus TCP section")
	}
	s = s[i:]
	for {
		start := strings.Index(s, "```yaml\n")
		if start < 0 {
			t.Fatal("README.md's Modbus TCP section has no scrape config")
		}
		end := strings.Index(s[start+8:], "```")
		block := s[start+8 : start+8+end]
		s = s[start+8+end:]
		if strings.Contains(block, "scrape_configs:") {
			var cfg struct {
				ScrapeConfigs []map[string]any `yaml:"scrape_configs"`
			}
			if err := yaml.Unmarshal([]byte(strings.ReplaceAll(block, "127.0.0.1:9955", f.ExporterAddr)), &cfg); err != nil {
				t.Fatalf("README Modbus scrape config: %v", err)
			}
			job := cfg.ScrapeConfigs[0]
			job["static_configs"] = []map[string]any{{"targets": f.Modbus.Addrs}}
			return job
		}
	}
}

// checkModbus: every Modbus controller is up through the README's job, the
// contract's metrics and the Modbus-only ones arrive, and only function
// code 03 ever reached a controller.
func checkModbus(t *testing.T, f *Fleet) {
	Eventually(t, 30*time.Second, func() error {
		up, err := f.Query(t, `bender_cc_up{job="bender_cc_modbus"} == 1`)
		if err != nil || len(up) != modbusSiteSize {
			return fmt.Errorf("Modbus controllers up: %d of %d (%v)", len(up), modbusSiteSize, err)
		}
		return nil
	})
	for _, q := range []string{
		`bender_cc_ocpp_state{job="bender_cc_modbus"} == 1`, `bender_cc_energy_joules_total{job="bender_cc_modbus"}`,
		`bender_cc_hems_current_limit_amperes{job="bender_cc_modbus"}`, `bender_cc_ev_state_of_charge_ratio{job="bender_cc_modbus"}`,
		`bender_cc_dlm_slaves_connected{job="bender_cc_modbus"}`, `bender_cc_source_up{job="bender_cc_modbus",source="modbus"} == 1`,
		`bender_cc_modbus_info{job="bender_cc_modbus",register_set="5.22"}`,
	} {
		if s := f.MustQuery(t, q); len(s) == 0 {
			t.Errorf("no data: %s", q)
		}
	}
	if s := f.MustQuery(t, `count(bender_cc_dlm_slaves_connected{job="bender_cc_modbus"})`); len(s) != 1 || s[0].Value != 2 {
		t.Errorf("DLM masters: %v, want 2", s)
	}
	for i, srv := range f.Modbus.Servers {
		codes := srv.FunctionCodes()
		if len(codes) == 0 {
			t.Errorf("Modbus controller %d was never read", i+1)
		}
		for _, fc := range codes {
			if fc != 3 {
				t.Fatalf("Modbus controller %d received function code %d", i+1, fc)
			}
		}
	}
}
