// Package e2e runs the whole data path — simulated controllers → exporter
// binary → a real Prometheus server → PromQL — on loopback.
package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/bender-cc/bender_cc_exporter/internal/loopback"
	"github.com/bender-cc/bender_cc_exporter/internal/testenv"
	"github.com/bender-cc/bender_cc_exporter/simulator"
)

// startProc runs a command until the test ends; its output goes to a log
// file that is printed when the test fails. The channel is closed when the
// command exits; the process is returned to stop and continue it.
func startProc(t *testing.T, name string, args ...string) (<-chan struct{}, *os.Process) {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), filepath.Base(name)+".log")
	out, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		_ = out.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			t.Logf("--- %s log (last 3000 bytes):\n%s", filepath.Base(name), tail(string(b), 3000))
		}
	})
	return exited, cmd.Process
}

// serve starts a server (the exporter, Prometheus) on a free loopback
// address, which args puts into its flags, and returns the address once
// /-/ready answers. A server that exits before it is ready (its port taken
// after all) is started again on another address, twice at most.
func serve(t *testing.T, name string, args func(addr string) []string) string {
	t.Helper()
	addr, _ := serveProc(t, name, args)
	return addr
}

// serveProc is serve that also returns the server's process.
func serveProc(t *testing.T, name string, args func(addr string) []string) (string, *os.Process) {
	t.Helper()
	return serveProcReady(t, name, func(addr string) string { return "http://" + addr + "/-/ready" }, args)
}

// serveProcReady is serveProc that polls ready(addr) (a URL with userinfo
// for a server behind basic auth).
func serveProcReady(t *testing.T, name string, ready func(addr string) string, args func(addr string) []string) (string, *os.Process) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addr, err := loopback.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		exited, proc := startProc(t, name, args(addr)...)
		err = loopback.WaitReady(ready(addr), exited, 30*time.Second)
		if err == nil {
			return addr, proc
		}
		if !errors.Is(err, loopback.ErrExited) || attempt == 3 {
			t.Fatalf("%s on %s: %v", filepath.Base(name), addr, err)
		}
		t.Logf("%s on %s exited at start; again on another address", filepath.Base(name), addr)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// buildExporter compiles the exporter binary from this checkout.
func buildExporter(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bender_cc_exporter")
	cmd := exec.Command("go", "build", "-o", bin, "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the exporter: %v\n%s", err, out)
	}
	return bin
}

// Fleet is a running simulator, exporter and Prometheus.
type Fleet struct {
	Sim          *simulator.Fleet
	SimURL       string
	ExporterAddr string
	PromURL      string

	// What withPrometheus uses when set: the probe job's static_configs (else
	// one group of every controller of Sim), a rule file (else the shipped
	// one, see testRules) and an Alertmanager to send to.
	StaticConfigs []map[string]any
	RulesFile     string
	Alertmanager  string
	// Modbus, when set, is scraped too, as the README's Modbus job.
	Modbus *ModbusSite
}

// Target is the exporter target of simulated controller id.
func (f *Fleet) Target(id int) string { return fmt.Sprintf("%s/cc/%d", f.SimURL, id) }

// startFleet starts n simulated controllers (with the given faults), the
// exporter binary, and Prometheus scraping every second with promConfig,
// which gets the targets and exporter address filled in by fill.
func startFleet(t *testing.T, n int, faults map[int]string, exporterArgs ...string) *Fleet {
	t.Helper()
	prom := testenv.Tool(t, "prometheus")
	sim, err := simulator.NewFleet(simulator.Options{Controllers: n, Seed: 42, Firmware: "mixed"})
	if err != nil {
		t.Fatal(err)
	}
	for id, mode := range faults {
		spec, err := simulator.ParseFault(mode)
		if err != nil {
			t.Fatal(err)
		}
		sim.SetFault(id, spec)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)

	f := &Fleet{Sim: sim, SimURL: srv.URL, Modbus: startModbusSite(t)}
	cfg := exporterConfig(t)
	f.ExporterAddr = serve(t, buildExporter(t), func(addr string) []string {
		return append([]string{"--web.listen-address=" + addr, "--config.file=" + cfg}, exporterArgs...)
	})
	return f.withPrometheus(t, prom)
}

// withPrometheus starts Prometheus with the README's fleet scrape config,
// its targets replaced by the simulated controllers and its exporter
// address by the one under test.
func (f *Fleet) withPrometheus(t *testing.T, prom string) *Fleet {
	t.Helper()
	var cfg struct {
		ScrapeConfigs []map[string]any `yaml:"scrape_configs"`
	}
	doc := docYAML(t, "../README.md", "### A fleet through `/probe`")
	doc = strings.ReplaceAll(doc, "127.0.0.1:9955", f.ExporterAddr)
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		t.Fatalf("README scrape config: %v", err)
	}
	if f.StaticConfigs != nil {
		cfg.ScrapeConfigs[0]["static_configs"] = f.StaticConfigs
	} else {
		var targets []string
		for id := 1; id <= f.Sim.Len(); id++ {
			targets = append(targets, f.Target(id))
		}
		cfg.ScrapeConfigs[0]["static_configs"] = []map[string]any{{"targets": targets}}
	}
	if f.Modbus != nil {
		cfg.ScrapeConfigs = append(cfg.ScrapeConfigs, f.modbusJob(t))
	}
	rules := f.RulesFile
	if rules == "" {
		rules = testRules(t, "")
	}
	full := map[string]any{
		"global":         map[string]any{"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
		"rule_files":     []string{rules},
		"scrape_configs": cfg.ScrapeConfigs,
	}
	if f.Alertmanager != "" {
		full["alerting"] = map[string]any{"alertmanagers": []map[string]any{{"static_configs": []map[string]any{{"targets": []string{f.Alertmanager}}}}}}
	}
	out, err := yaml.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	f.PromURL = "http://" + serve(t, prom, func(addr string) []string {
		return []string{"--config.file=" + path, "--storage.tsdb.path=" + filepath.Join(dir, "data"), "--web.listen-address=" + addr}
	})
	return f
}

// testRules writes the shipped rule file as the tests load it: every group
// evaluated every second (the hourly group too), the availability windows'
// offset of half a minute (half the minute group's interval) scaled with it
// to half a second, and, when shortFor is set, every for: and
// keep_firing_for: shortened to it. Nothing else changes.
func testRules(t *testing.T, shortFor string) string {
	t.Helper()
	b, err := os.ReadFile("../alerts/bender_cc.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []yaml.MapSlice `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, g := range doc.Groups {
		for n := range g {
			switch g[n].Key {
			case "interval":
				g[n].Value = "1s"
			case "rules":
				for _, r := range g[n].Value.([]any) {
					rule := r.(yaml.MapSlice)
					for k := range rule {
						if shortFor != "" && (rule[k].Key == "for" || rule[k].Key == "keep_firing_for") {
							rule[k].Value = shortFor
						}
						if rule[k].Key == "expr" {
							rule[k].Value = strings.ReplaceAll(rule[k].Value.(string), " offset 30s", " offset 500ms")
						}
					}
				}
			}
		}
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bender_cc.rules.yml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// RuleHealth returns every loaded rule's name, health and last error.
func (f *Fleet) RuleHealth(t *testing.T) []map[string]any {
	t.Helper()
	resp, err := http.Get(f.PromURL + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var r struct {
		Data struct {
			Groups []struct {
				Rules []map[string]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, g := range r.Data.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

// Sample is one element of an instant-query result.
type Sample struct {
	Metric map[string]string
	Value  float64
}

// Query runs an instant PromQL query and returns its vector (a scalar comes
// back as one sample without labels).
func (f *Fleet) Query(t *testing.T, q string) ([]Sample, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.PromURL+"/api/v1/query?query="+url.QueryEscape(q), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	var r struct {
		Status, Error string
		Data          struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", q, r.Error)
	}
	parse := func(v []any) float64 { x, _ := strconv.ParseFloat(v[1].(string), 64); return x }
	switch r.Data.ResultType {
	case "vector":
		var vec []struct {
			Metric map[string]string
			Value  []any
		}
		if err := json.Unmarshal(r.Data.Result, &vec); err != nil {
			return nil, err
		}
		out := make([]Sample, 0, len(vec))
		for _, s := range vec {
			out = append(out, Sample{s.Metric, parse(s.Value)})
		}
		return out, nil
	case "scalar":
		var v []any
		if err := json.Unmarshal(r.Data.Result, &v); err != nil {
			return nil, err
		}
		return []Sample{{nil, parse(v)}}, nil
	}
	return nil, fmt.Errorf("query %q: result type %s", q, r.Data.ResultType)
}

// MustQuery is Query that fails the test on error.
func (f *Fleet) MustQuery(t *testing.T, q string) []Sample {
	t.Helper()
	s, err := f.Query(t, q)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Eventually retries fn every half second until it returns nil or d passes.
func Eventually(t *testing.T, d time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", d, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
