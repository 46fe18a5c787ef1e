package e2e

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bender-cc/bender_cc_exporter/internal/testenv"
	"github.com/bender-cc/bender_cc_exporter/simulator"
)

// TestSiteLabelFromFiles: the README's file_sd scrape config gives every
// controller a site, on Prometheus' own up as on bender_cc_up: a group's
// site label where the file has one, else the file's name. (The /sd way is
// TestShardingOverSD's.)
func TestSiteLabelFromFiles(t *testing.T) {
	prom := testenv.Tool(t, "prometheus")
	sim, err := simulator.NewFleet(simulator.Options{Controllers: 3, Seed: 3, Firmware: "mixed"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	target := func(id int) string { return fmt.Sprintf("%s/cc/%d", srv.URL, id) }

	dir, chargers := t.TempDir(), t.TempDir()
	files := map[string]string{
		"depot.yml":  fmt.Sprintf("- targets: ['%s']\n  labels: {site: depot}\n", target(1)),
		"garage.yml": fmt.Sprintf("- targets: ['%s']\n", target(2)),
		"north.yml":  fmt.Sprintf("- targets: ['%s']\n  labels: {site: north-hall}\n", target(3)),
	}
	want := map[string]string{target(1): "depot", target(2): "garage", target(3): "north-hall"}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(chargers, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	exporter := serve(t, buildExporter(t), func(addr string) []string { return []string{"--web.listen-address=" + addr} })
	doc := docYAML(t, "../README.md", "### A fleet from files (`file_sd`)")
	pc := strings.ReplaceAll(doc, "127.0.0.1:9955", exporter)
	pc = strings.ReplaceAll(pc, "/etc/prometheus/chargers/*.yml", filepath.Join(chargers, "*.yml"))
	if pc == doc {
		t.Fatal("the README's file_sd example did not change: its addresses or paths moved")
	}
	pc = "global: {scrape_interval: 1s, scrape_timeout: 1s}\n" + pc
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, []byte(pc), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &Fleet{PromURL: "http://" + serve(t, prom, func(addr string) []string {
		return []string{"--config.file=" + path, "--storage.tsdb.path=" + filepath.Join(dir, "data"), "--web.listen-address=" + addr}
	})}

	Eventually(t, 30*time.Second, func() error {
		for _, q := range []string{`up{job="bender_cc"}`, `bender_cc_up{job="bender_cc"}`} {
			s, err := f.Query(t, q)
			if err != nil {
				return err
			}
			if len(s) != len(want) {
				return fmt.Errorf("%s: %d series, want %d", q, len(s), len(want))
			}
			for _, x := range s {
				if x.Value != 1 || x.Metric["site"] != want[x.Metric["instance"]] {
					return fmt.Errorf("%s: %v = %v, want site %q and 1", q, x.Metric, x.Value, want[x.Metric["instance"]])
				}
			}
		}
		return nil
	})
}
