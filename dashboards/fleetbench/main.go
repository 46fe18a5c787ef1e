// Command fleetbench measures the fleet dashboard's queries on a day of a
// large fleet (docs/performance.md, "Dashboards at 5,000 controllers"): it
// writes a day of N controllers' series as TSDB blocks, with the recording
// rules' series the dashboard reads, starts Prometheus on them and times
// every query of bender-cc-fleet.json as Grafana sends it.
//
//	cd dashboards/fleetbench && go run . -controllers 5000 [-old old-fleet.json]
//
// The blocks are written with Prometheus' TSDB block writer, which is what
// promtool tsdb create-blocks-from openmetrics uses: an OpenMetrics file of
// a 5,000-controller day would be over 30 GB of text to write and parse.
// Its own module: the TSDB stays out of the exporter's go.mod.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

func main() {
	n := flag.Int("controllers", 5000, "controllers")
	perSite := flag.Int("per-site", 50, "controllers per site")
	step := flag.Duration("interval", time.Minute, "scrape interval of the generated day")
	history := flag.Int("days", 30, "days of the hourly recording rules' series before the day (the 30-day availability figures read them)")
	prom := flag.String("prometheus", "prometheus", "Prometheus binary")
	dashboard := flag.String("dashboard", "../bender-cc-fleet.json", "dashboard whose queries are timed")
	old := flag.String("old", "", "a second dashboard to time the same way (the one before, say)")
	keep := flag.String("data", "", "data directory (kept; default a temporary one, removed)")
	rules := flag.String("rules", "", "a rule file whose rules are timed too, as instant queries at the end of the day (../../alerts/bender_cc.rules.yml)")
	groups := flag.String("groups", "bender_cc.availability", "time the rules of the groups whose name starts with this")
	reuse := flag.Bool("reuse", false, "time the queries on the day already in -data (written by an earlier run with the same flags)")
	flag.Parse()

	dir := *keep
	if dir == "" {
		d, err := os.MkdirTemp("", "fleetbench")
		if err != nil {
			log.Fatal(err)
		}
		defer func() { _ = os.RemoveAll(d) }()
		dir = d
	}
	// A day that ends on a block boundary, an hour ago.
	end := time.Now().Add(-time.Hour).Truncate(2 * time.Hour)
	begin := end.Add(-24 * time.Hour)
	var samples, series int
	if *reuse {
		b, err := os.ReadFile(filepath.Join(dir, "day.json"))
		if err != nil {
			log.Fatalf("-reuse: %v", err)
		}
		var day struct {
			End             time.Time
			Samples, Series int
		}
		if err := json.Unmarshal(b, &day); err != nil {
			log.Fatal(err)
		}
		end, samples, series = day.End, day.Samples, day.Series
	} else {
		t0 := time.Now()
		samples, series = generate(dir, *n, *perSite, begin, end, *step, *history)
		log.Printf("%d series, %d samples in %s", series, samples, time.Since(t0).Round(time.Second))
		b, _ := json.Marshal(map[string]any{"End": end, "Samples": samples, "Series": series})
		if err := os.WriteFile(filepath.Join(dir, "day.json"), b, 0o600); err != nil {
			log.Fatal(err)
		}
	}

	// Read what is timed before Prometheus starts: log.Fatal skips the deferred stop.
	dashboards := map[string][]query{}
	for _, file := range []string{*dashboard, *old} {
		if file != "" {
			dashboards[file] = queries(file)
		}
	}
	var ruleQs []query
	if *rules != "" {
		ruleQs = ruleQueries(*rules, *groups)
	}

	addr, stop := startPrometheus(*prom, dir)
	defer stop()
	fmt.Printf("%d controllers (%d sites), one day at %s and %d days of the hourly series before it, %d series, %d samples; %s\n\n",
		*n, (*n+*perSite-1) / *perSite, *step, *history, series, samples, version(*prom))
	for _, file := range []string{*dashboard, *old} {
		if file == "" {
			continue
		}
		fmt.Printf("%s\n\n| panel | query | median of 3 |\n|---|---|---|\n", file)
		for _, q := range dashboards[file] {
			fmt.Printf("| %s | %s %s | %s |\n", q.panel, q.refID, q.kind(), timeQuery(addr, q, end))
		}
		fmt.Println()
	}
	if *rules != "" {
		// Just after the day's last hourly samples: the rules that read them (last_over_time
		// over an hour, the hourly group's own) find them, as in Prometheus.
		at := end.Add(-59 * time.Minute)
		fmt.Printf("%s, groups %s*, at %s\n\n", *rules, *groups, at.Format(time.RFC3339))
		timeRules(addr, ruleQs, at)
	}
}

// retention is the bench Prometheus' retention (more than the history and
// the day); the blocks are compacted as Prometheus compacts them with it.
const retention = 45 * 24 * time.Hour

func startPrometheus(bin, dir string) (string, func()) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global: {}\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+dir, "--storage.tsdb.retention.time="+model.Duration(retention).String(),
		"--web.listen-address="+addr, "--query.timeout=60s", "--query.max-samples=2000000000")
	logf, _ := os.Create(filepath.Join(dir, "prometheus.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	for i := 0; ; i++ {
		if resp, err := http.Get("http://" + addr + "/-/ready"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if i > 600 {
			log.Fatal("Prometheus not ready after 5 minutes")
		}
		time.Sleep(500 * time.Millisecond)
	}
	return addr, func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
}

func version(bin string) string {
	out, _ := exec.Command(bin, "--version").CombinedOutput()
	first, _, _ := strings.Cut(string(out), "\n")
	return first
}

type query struct {
	panel, refID, expr string
	instant            bool
	step               time.Duration // of a range query: 30 s, or the panel's min interval
}

func (q query) kind() string {
	if q.instant {
		return "instant"
	}
	return "range 6h, step " + model.Duration(q.step).String()
}

func queries(file string) []query {
	b, err := os.ReadFile(file)
	if err != nil {
		log.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title    string
			Interval string
			Targets  []struct {
				RefID   string `json:"refId"`
				Expr    string
				Instant bool
			}
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		log.Fatal(err)
	}
	var out []query
	for _, p := range d.Panels {
		// Grafana's step: the range over its data points, at least the panel's min interval.
		step := 30 * time.Second
		if p.Interval != "" {
			i, err := model.ParseDuration(p.Interval)
			if err != nil {
				log.Fatalf("%s: interval %q: %v", p.Title, p.Interval, err)
			}
			step = max(step, time.Duration(i))
		}
		for _, t := range p.Targets {
			out = append(out, query{p.Title, t.RefID, t.Expr, t.Instant, step})
		}
	}
	return out
}

// Grafana's variables: all sites, all controllers, a 6-hour dashboard, 1-minute data.
var vars = map[string]string{"job": "bender_cc", "site": ".*", "instance": ".+", "exporter_job": "bender_cc_exporter",
	"__rate_interval": "4m", "__interval": "30s", "__range": "6h"}

func substitute(expr string) string {
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for _, n := range names {
		expr = strings.ReplaceAll(expr, "${"+n+"}", vars[n])
		expr = strings.ReplaceAll(expr, "$"+n, vars[n])
	}
	return expr
}

func timeQuery(addr string, q query, at time.Time) string {
	v := url.Values{"query": {substitute(q.expr)}}
	path := "/api/v1/query"
	if q.instant {
		v.Set("time", fmt.Sprint(at.Unix()))
	} else {
		path = "/api/v1/query_range"
		v.Set("start", fmt.Sprint(at.Add(-6*time.Hour).Unix()))
		v.Set("end", fmt.Sprint(at.Unix()))
		v.Set("step", fmt.Sprint(q.step.Seconds()))
	}
	var times []time.Duration
	for range 3 {
		t0 := time.Now()
		resp, err := http.PostForm("http://"+addr+path, v)
		if err != nil {
			return "error: " + err.Error()
		}
		var r struct {
			Status, Error string
			Data          struct {
				Result []json.RawMessage
			}
		}
		err = json.NewDecoder(resp.Body).Decode(&r)
		_ = resp.Body.Close()
		d := time.Since(t0)
		if err != nil || r.Status != "success" {
			if strings.Contains(r.Error, "timeout") || strings.Contains(r.Error, "context deadline") {
				return "> 60 s (timed out)"
			}
			return fmt.Sprintf("error: %v %s", err, r.Error)
		}
		if len(r.Data.Result) == 0 {
			return fmt.Sprintf("%s (no data)", d.Round(time.Millisecond))
		}
		times = append(times, d)
		if d > 20*time.Second {
			break // one slow run says enough
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	d := times[len(times)/2]
	if d < 10*time.Millisecond {
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}
