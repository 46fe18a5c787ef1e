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
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

func main() {
	n := flag.Int("controllers", 5000, "controllers")
	perSite := flag.Int("per-site", 50, "controllers per site")
	step := flag.Duration("interval", time.Minute, "scrape interval of the generated day")
	prom := flag.String("prometheus", "prometheus", "Prometheus binary")
	dashboard := flag.String("dashboard", "../bender-cc-fleet.json", "dashboard whose queries are timed")
	old := flag.String("old", "", "a second dashboard to time the same way (the one before, say)")
	keep := flag.String("data", "", "data directory (kept; default a temporary one, removed)")
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
		samples, series = generate(dir, *n, *perSite, begin, end, *step)
		log.Printf("%d series, %d samples in %s", series, samples, time.Since(t0).Round(time.Second))
		b, _ := json.Marshal(map[string]any{"End": end, "Samples": samples, "Series": series})
		if err := os.WriteFile(filepath.Join(dir, "day.json"), b, 0o600); err != nil {
			log.Fatal(err)
		}
	}

	addr, stop := startPrometheus(*prom, dir)
	defer stop()
	fmt.Printf("%d controllers (%d sites), one day at %s, %d series, %d samples; %s\n\n", *n, (*n+*perSite-1) / *perSite, *step, series, samples, version(*prom))
	for _, file := range []string{*dashboard, *old} {
		if file == "" {
			continue
		}
		fmt.Printf("%s\n\n| panel | query | median of 3 |\n|---|---|---|\n", file)
		for _, q := range queries(file) {
			fmt.Printf("| %s | %s %s | %s |\n", q.panel, q.refID, q.kind(), timeQuery(addr, q, end))
		}
		fmt.Println()
	}
}

// generate writes the day as 2-hour blocks: per controller the series the
// fleet dashboard reads, and per site the recording rules' series.
func generate(dir string, n, perSite int, begin, end time.Time, step time.Duration) (samples, nseries int) {
	type series struct {
		l   labels.Labels
		ref storage.SeriesRef
		v   func(c int, t int64) float64
	}
	var all []*series
	add := func(v func(c int, t int64) float64, ls ...string) {
		all = append(all, &series{l: labels.FromStrings(ls...), v: v})
	}
	const cycle = 40 * 60 // s: idle 10 min, connected 5, charging 20, finishing 5
	phase := func(c int, t int64) int {
		s := (t/1000 + int64(c)*97) % cycle
		switch {
		case s < 600:
			return 0
		case s < 900:
			return 1
		case s < 2100:
			return 2
		}
		return 3
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	connStates := []string{"no_vehicle_connected", "vehicle_connected_type2", "vehicle_charging_type2", "vehicle_connected_schuko", "vehicle_charging_schuko", "vehicle_connector_error"}
	ocppStates := []string{"available", "occupied", "reserved", "unavailable", "faulted", "preparing", "charging", "suspendedevse", "suspendedev", "finishing"}
	backendStates := []string{"not_connected", "connecting", "connecting_proxy_ok", "connected", "not_reacheable", "rejected", "pending"}
	faulted := func(c int) bool { return c%97 == 0 }
	down := func(c int) bool { return c%101 == 0 }
	for c := 0; c < n; c++ {
		base := []string{"job", "bender_cc", "instance", fmt.Sprintf("cc-%05d", c), "site", fmt.Sprintf("site-%03d", c/perSite)}
		with := func(ls ...string) []string { return append(append([]string{}, base...), ls...) }
		add(func(c int, t int64) float64 { return b2f(!down(c)) }, with("__name__", "up")...)
		add(func(c int, t int64) float64 { return b2f(!down(c)) }, with("__name__", "bender_cc_up")...)
		if down(c) {
			continue // no metrics from a controller that cannot be read
		}
		for i, s := range connStates {
			want := []int{0, 1, 2, 1}
			add(func(c int, t int64) float64 {
				if faulted(c) {
					return b2f(i == 5)
				}
				return b2f(i == want[phase(c, t)])
			}, with("__name__", "bender_cc_connection_state", "state", s)...)
		}
		for i, s := range ocppStates {
			want := []int{0, 5, 6, 9}
			add(func(c int, t int64) float64 {
				if faulted(c) {
					return b2f(i == 4)
				}
				return b2f(i == want[phase(c, t)])
			}, with("__name__", "bender_cc_ocpp_state", "state", s)...)
			add(func(c int, t int64) float64 { return b2f(i == 0) }, with("__name__", "bender_cc_slave_ocpp_state", "state", s)...)
		}
		for i, s := range backendStates {
			add(func(c int, t int64) float64 { return b2f(i == 3) }, with("__name__", "bender_cc_backend_connection_state", "state", s)...)
		}
		for _, s := range []string{"okay", "triggered"} {
			add(func(c int, t int64) float64 { return b2f((s == "triggered") == (c%499 == 0)) }, with("__name__", "bender_cc_rcmb_state", "state", s)...)
		}
		for _, s := range []string{"disable", "okay", "triggered"} {
			add(func(c int, t int64) float64 { return b2f(s == "disable") }, with("__name__", "bender_cc_rcd_state", "state", s)...)
			add(func(c int, t int64) float64 { return b2f(s == "okay") }, with("__name__", "bender_cc_mcb_state", "connector", "type2", "state", s)...)
		}
		add(func(c int, t int64) float64 { return b2f(phase(c, t) == 2) * 11000 }, with("__name__", "bender_cc_power_watts")...)
		add(func(c int, t int64) float64 { return energy(c, t, phase) }, with("__name__", "bender_cc_energy_joules_total")...)
		add(func(c int, t int64) float64 { return float64(1000 + (t/1000+int64(c)*97-900)/cycle) }, with("__name__", "bender_cc_contactor_cycles_total", "connector", "type2")...)
		add(func(c int, t int64) float64 { return 20 + float64(phase(c, t)) }, with("__name__", "bender_cc_ambient_temperature_celsius")...)
		add(func(c int, t int64) float64 { return 0.05 }, with("__name__", "bender_cc_scrape_duration_seconds")...)
		add(func(c int, t int64) float64 { return b2f(faulted(c)) }, with("__name__", "bender_cc_errors")...)
		if faulted(c) {
			add(func(c int, t int64) float64 { return 1 }, with("__name__", "bender_cc_error", "error", "plug_locking_failed")...)
		}
		add(func(c int, t int64) float64 { return 1 }, with("__name__", "bender_cc_info", "vendor", "ebee", "model", "CC613_2M3PR", "firmware_version", []string{"5.22.1-13295", "5.33.2-19412"}[c%2])...)
	}
	// The recording rules, per site: every minute, and the hourly group every hour.
	sites := (n + perSite - 1) / perSite
	for s := 0; s < sites; s++ {
		lo, hi := s*perSite, min(n, (s+1)*perSite)
		base := []string{"job", "bender_cc", "site", fmt.Sprintf("site-%03d", s)}
		with := func(ls ...string) []string { return append(append([]string{}, base...), ls...) }
		sum := func(f func(c int, t int64) float64) func(int, int64) float64 {
			return func(_ int, t int64) float64 {
				v := 0.0
				for c := lo; c < hi; c++ {
					if !down(c) {
						v += f(c, t)
					}
				}
				return v
			}
		}
		add(sum(func(c int, t int64) float64 { return b2f(phase(c, t) == 2) * 11000 }), with("__name__", "job_site:bender_cc_power_watts:sum")...)
		add(sum(func(c int, t int64) float64 { return b2f(phase(c, t) == 2) * 11000 }), with("__name__", "job_site:bender_cc_energy_joules:rate5m")...)
		for i, st := range connStates {
			want := []int{0, 1, 2, 1}
			add(sum(func(c int, t int64) float64 { return b2f(i == want[phase(c, t)]) }), with("__name__", "job_site_state:bender_cc_connection_state:count", "state", st)...)
		}
		for i, st := range ocppStates {
			want := []int{0, 5, 6, 9}
			add(sum(func(c int, t int64) float64 { return b2f(i == want[phase(c, t)]) }), with("__name__", "job_site_state:bender_cc_ocpp_state:count", "state", st)...)
		}
	}
	minuteSeries := len(all)
	for s := 0; s < sites; s++ {
		lo, hi := s*perSite, min(n, (s+1)*perSite)
		base := []string{"job", "bender_cc", "site", fmt.Sprintf("site-%03d", s)}
		add(func(_ int, t int64) float64 {
			v := 0.0
			for c := lo; c < hi; c++ {
				v += energy(c, t, phase) - energy(c, t-3600e3, phase)
			}
			return v
		}, append(base, "__name__", "job_site:bender_cc_energy_joules:increase1h")...)
		add(func(_ int, t int64) float64 { return float64((hi - lo) * 3600 / cycle) }, append(base, "__name__", "job_site:bender_cc_contactor_cycles:increase1h")...)
	}

	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for w := begin; w.Before(end); w = w.Add(2 * time.Hour) {
		bw, err := tsdb.NewBlockWriter(logger, dir, (2 * time.Hour).Milliseconds())
		if err != nil {
			log.Fatal(err)
		}
		for _, s := range all {
			s.ref = 0
		}
		app := bw.Appender(ctx)
		pending := 0
		for t := w; t.Before(w.Add(2 * time.Hour)); t = t.Add(step) {
			ms := t.UnixMilli()
			for i, s := range all {
				if i >= minuteSeries && t.Minute() != 0 {
					continue // the hourly group
				}
				ref, err := app.Append(s.ref, s.l, ms, s.v(controllerOf(s.l), ms))
				if err != nil {
					log.Fatalf("%s: %v", s.l, err)
				}
				s.ref = ref
				samples++
				if pending++; pending > 500000 {
					if err := app.Commit(); err != nil {
						log.Fatal(err)
					}
					app, pending = bw.Appender(ctx), 0
				}
			}
		}
		if err := app.Commit(); err != nil {
			log.Fatal(err)
		}
		if _, err := bw.Flush(ctx); err != nil {
			log.Fatal(err)
		}
		_ = bw.Close()
		log.Printf("block %s written", w.Format(time.RFC3339))
	}
	return samples, len(all)
}

func controllerOf(l labels.Labels) int {
	var c int
	_, _ = fmt.Sscanf(l.Get("instance"), "cc-%d", &c)
	return c
}

// energy is the meter of controller c at t: 11 kW while charging.
func energy(c int, t int64, phase func(int, int64) int) float64 {
	const cycle = 40 * 60
	s := t/1000 + int64(c)*97
	full := s / cycle
	in := s % cycle
	e := float64(full) * 1200 * 11000
	if in > 900 {
		e += float64(min(in, 2100)-900) * 11000
	}
	return 1e9 + e
}

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
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+dir, "--storage.tsdb.retention.time=30d",
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
}

func (q query) kind() string {
	if q.instant {
		return "instant"
	}
	return "range 6h, step 30s"
}

func queries(file string) []query {
	b, err := os.ReadFile(file)
	if err != nil {
		log.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct {
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
		for _, t := range p.Targets {
			out = append(out, query{p.Title, t.RefID, t.Expr, t.Instant})
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
		v.Set("step", "30")
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
