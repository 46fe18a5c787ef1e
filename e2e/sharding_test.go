package e2e

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bender-cc/bender_cc_exporter/internal/testenv"
	"github.com/bender-cc/bender_cc_exporter/simulator"
)

// docYAML returns the first ```yaml block after a heading of a doc.
func docYAML(t *testing.T, path, heading string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("%s has no heading %q", path, heading)
	}
	s = s[i:]
	start := strings.Index(s, "```yaml\n")
	if start < 0 {
		t.Fatalf("%s: no yaml block after %q", path, heading)
	}
	end := strings.Index(s[start+8:], "```")
	return s[start+8 : start+8+end]
}

// TestShardingOverSD: two Prometheus servers, each with its own exporter,
// split a simulated fleet with hashmod over the exporters' /sd, using the
// config of docs/scaling.md: every controller is scraped exactly once.
func TestShardingOverSD(t *testing.T) {
	prom := testenv.Tool(t, "prometheus")
	const n = 20
	sim, err := simulator.NewFleet(simulator.Options{Controllers: n, Seed: 7, Firmware: "mixed"})
	if err != nil {
		t.Fatal(err)
	}
	simSrv := httptest.NewServer(sim)
	defer simSrv.Close()

	// The exporters' config: every controller named, listed as allowed, with a label.
	var cfg strings.Builder
	cfg.WriteString("modules: {default: {timeout: 5s}}\nprobe:\n  allowed_targets:\n")
	for id := 1; id <= n; id++ {
		fmt.Fprintf(&cfg, "    - cc-%d\n", id)
	}
	cfg.WriteString("targets:\n")
	for id := 1; id <= n; id++ {
		fmt.Fprintf(&cfg, "  - {name: cc-%d, address: '%s/cc/%d', labels: {site: site-%d}}\n", id, simSrv.URL, id, id%3)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "exporter.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildExporter(t)
	doc := docYAML(t, "../docs/scaling.md", "## Worked example: two shards")
	var shards []*Fleet
	for shard := range 2 {
		addr := serve(t, bin, func(addr string) []string {
			return []string{"--web.listen-address=" + addr, "--config.file=" + cfgPath}
		})
		pc := strings.ReplaceAll(doc, "exporter-0:9955", addr)
		pc = strings.Replace(pc, `regex: "0"`, fmt.Sprintf(`regex: "%d"`, shard), 1)
		pc = strings.Replace(pc, "scrape_interval: 15s", "scrape_interval: 1s\n  scrape_timeout: 1s", 1)
		if pc == doc {
			t.Fatal("the worked example did not change: its addresses or shard moved")
		}
		path := filepath.Join(dir, fmt.Sprintf("prometheus-%d.yml", shard))
		if err := os.WriteFile(path, []byte(pc), 0o600); err != nil {
			t.Fatal(err)
		}
		paddr := serve(t, prom, func(paddr string) []string {
			return []string{"--config.file=" + path, "--storage.tsdb.path=" + filepath.Join(dir, fmt.Sprintf("data-%d", shard)), "--web.listen-address=" + paddr}
		})
		f := &Fleet{Sim: sim, SimURL: simSrv.URL, ExporterAddr: addr, PromURL: "http://" + paddr}
		shards = append(shards, f)
	}

	scraped := map[string][]int{}
	Eventually(t, 45*time.Second, func() error {
		clear(scraped)
		total := 0
		for i, f := range shards {
			s, err := f.Query(t, `bender_cc_up{job="bender_cc"}`)
			if err != nil {
				return err
			}
			for _, x := range s {
				if x.Value != 1 {
					return fmt.Errorf("shard %d: %s is down", i, x.Metric["instance"])
				}
				if !regexp.MustCompile(`^site-\d$`).MatchString(x.Metric["site"]) {
					return fmt.Errorf("shard %d: %s lacks the site label from /sd: %v", i, x.Metric["instance"], x.Metric)
				}
				scraped[x.Metric["instance"]] = append(scraped[x.Metric["instance"]], i)
			}
			total += len(s)
		}
		if len(scraped) != n || total != n {
			return fmt.Errorf("%d controllers in %d series across both shards, want %d in %d", len(scraped), total, n, n)
		}
		return nil
	})
	per := map[int]int{}
	var dup []string
	for inst, s := range scraped {
		if len(s) != 1 {
			dup = append(dup, inst)
		}
		per[s[0]]++
	}
	sort.Strings(dup)
	if len(dup) > 0 {
		t.Errorf("scraped by more than one shard: %v", dup)
	}
	if per[0] == 0 || per[1] == 0 {
		t.Errorf("one shard got everything: %v", per)
	}
	t.Logf("shard 0: %d controllers, shard 1: %d controllers, each scraped once", per[0], per[1])
}
