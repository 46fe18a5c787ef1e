// Command bender-cc-loadtest measures the exporter on loopback, against a
// simulated fleet and the exporter binary, in two ways:
//
//   - open loop (--rate or --interval): probes at a fixed rate, spread over
//     the controllers as Prometheus spreads scrapes, with the scrape-timeout
//     header, optionally with misbehaving controllers (--faults) and config
//     reloads (--reload-every); reports the exporter's CPU per probe and in
//     % of one CPU, RSS, fds, goroutines, latency from the intended send time,
//     and the simulator's own CPU per raw request at that rate as the floor;
//     fails on any lost or wrong answer or on growth. This is what sizing
//     and CI use (docs/performance.md).
//   - closed loop (default): in interleaved rounds, hammers the simulator
//     directly (raw GET /rest/full_state) and through the exporter (/probe)
//     and reports throughput at saturation, then probes many distinct
//     targets on many hosts and reports what the exporter holds afterwards.
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/bender-cc/bender_cc_exporter/simulator"
)

func main() {
	app := kingpin.New("bender-cc-loadtest", "Load test of bender_cc_exporter against a simulated fleet, on loopback.")
	var (
		exporter    = app.Flag("exporter", "Exporter binary.").Default("./bender_cc_exporter").String()
		exporterArg = app.Flag("exporter-arg", "Extra flag for the exporter (repeatable).").Strings()
		exporterEnv = app.Flag("exporter-env", "Extra environment variable for the exporter, e.g. GOMAXPROCS=1 (repeatable).").Strings()
		controllers = app.Flag("controllers", "Controllers in the throughput rounds.").Default("200").Int()
		concurrency = app.Flag("concurrency", "Concurrent requests.").Default("16").Int()
		duration    = app.Flag("duration", "Length of each phase of a round.").Default("5s").Duration()
		rounds      = app.Flag("rounds", "Rounds of raw and exporter phases, interleaved.").Default("3").Int()
		targets     = app.Flag("targets", "Distinct targets in the last phase (0 skips it).").Default("10000").Int()
		hosts       = app.Flag("hosts", "Distinct loopback hosts (127.1.x.y) the targets are spread over.").Default("1000").Int()
		passes      = app.Flag("passes", "Passes over all distinct targets.").Default("2").Int()
		latency     = app.Flag("controller-latency", "Time each simulated controller takes to answer (0: at once, the CPU-bound worst case).").Default("0s").Duration()

		rate            = app.Flag("rate", "Open loop: probes per second (or give --interval).").Float64()
		interval        = app.Flag("interval", "Open loop: the scrape interval; the rate is --controllers per interval.").Duration()
		perHost         = app.Flag("per-host", "Open loop: controllers per loopback host (127.1.x.y).").Default("100").Int()
		scrapeTimeout   = app.Flag("scrape-timeout", "Open loop: X-Prometheus-Scrape-Timeout-Seconds sent with each probe.").Default("10s").Duration()
		faults          = app.Flag("faults", "Open loop: share of controllers that hang, answer 500, garbage, a truncated body or after 2 s, in turn.").Default("0").Float64()
		reloadEvery     = app.Flag("reload-every", "Open loop: rewrite the config and send SIGHUP this often; every third config is invalid.").Duration()
		modbusSource    = app.Flag("modbus", "Open loop: probe the simulated controllers over Modbus TCP (a module with source: modbus) instead of REST.").Bool()
		hang            = app.Flag("hang", "Open loop: share of the well-behaved controllers that hang (accept, never answer); in an overload run only during the overload.").Default("0").Float64()
		overloadRate    = app.Flag("overload-rate", "Overload run: probes per second in the middle phase; the three phases (normal at --rate, overload, normal) last --duration each, every controller is probed once per --interval (default 10s).").Float64()
		exporterCPUList = app.Flag("exporter-cpus", "Pin the exporter to these CPUs (taskset -c), e.g. 1; run the load test itself with taskset -c 0 so that the two do not compete.").String()
		pollHealthURL   = app.Flag("poll-health", "Internal: run as the overload run's health poller against this base URL.").Hidden().String()
		cgroupMemory    = app.Flag("cgroup-memory", "Run the exporter in a new memory cgroup with this limit, e.g. 128MiB (root; cgroup v1 or v2); reports OOM kills and the peak usage, and removes the group.").Bytes()
		simulatorBin    = app.Flag("simulator", "Open loop: the simulator binary, run alone at the same rate for the floor (empty: no floor).").Default("./bender-cc-simulator").String()
	)
	kingpin.MustParse(app.Parse(os.Args[1:]))
	if *pollHealthURL != "" {
		pollHealth(*pollHealthURL)
		return
	}
	extraEnv = *exporterEnv
	exporterCPUs = *exporterCPUList
	if *cgroupMemory > 0 {
		g, err := newMemCgroup(int64(*cgroupMemory))
		if err != nil && os.Getenv("CI") != "true" {
			fmt.Fprintln(os.Stderr, "skipped (CI=true makes this an error):", err)
			return
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(1)
		}
		cgroup = g
	}
	exit := func(err error) {
		if cgroup != nil {
			cgroup.remove()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(1)
		}
	}
	if *overloadRate > 0 {
		if *rate <= 0 {
			exit(errors.New("an overload run needs --rate, the normal load"))
		}
		o := &openLoop{exporter: *exporter, extra: *exporterArg, controllers: *controllers, perHost: *perHost,
			rate: *rate, overloadRate: *overloadRate, interval: *interval, duration: *duration, scrapeTimeout: *scrapeTimeout,
			latency: *latency, faults: *faults, hang: *hang}
		exit(o.runOverload())
		return
	}
	if *interval > 0 && *rate == 0 {
		*rate = float64(*controllers) / interval.Seconds()
	}
	if *rate > 0 {
		o := &openLoop{exporter: *exporter, simulator: *simulatorBin, extra: *exporterArg, controllers: *controllers, perHost: *perHost,
			rate: *rate, duration: *duration, scrapeTimeout: *scrapeTimeout, latency: *latency, faults: *faults,
			reloadEvery: *reloadEvery, floor: *simulatorBin != "" && !*modbusSource, modbus: *modbusSource, hang: *hang}
		exit(o.run())
		return
	}
	defer exit(nil)
	if err := run(*exporter, *exporterArg, *controllers, *concurrency, *duration, *rounds, *targets, *hosts, *passes, *latency); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(exporterBin string, extra []string, controllers, conc int, d time.Duration, rounds, targets, hosts, passes int, latency time.Duration) error {
	perHost := 1
	if targets > 0 {
		perHost = (targets + hosts - 1) / hosts
	}
	fleet, err := simulator.NewFleet(simulator.Options{Controllers: max(controllers, perHost), Seed: 1, Firmware: "mixed"})
	if err != nil {
		return err
	}
	if latency > 0 {
		for id := 1; id <= fleet.Len(); id++ {
			fleet.SetFault(id, &simulator.FaultSpec{Mode: simulator.FaultLatency, Delay: latency})
		}
	}
	simURL, err := serve(fleet, "127.0.0.1:0")
	if err != nil {
		return err
	}
	exp, err := startExporter(exporterBin, extra)
	if err != nil {
		return err
	}
	defer exp.stop()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 4 * conc, MaxIdleConnsPerHost: 2 * conc, IdleConnTimeout: 30 * time.Second,
	}}

	fmt.Printf("machine: %d CPUs; simulator: %d controllers (in this process), answering after %s; exporter: %s (pid %d); concurrency %d, %s per phase\n\n",
		numCPU(), fleet.Len(), latency, exporterBin, exp.cmd.Process.Pid, conc, d)
	raw := func(k int64) string { return fmt.Sprintf("%s/cc/%d/rest/full_state", simURL, k%int64(controllers)+1) }
	probe := func(k int64) string {
		return fmt.Sprintf("http://%s/probe?target=%s/cc/%d", exp.addr, simURL, k%int64(controllers)+1)
	}
	// Warm up both paths: connections, caches, the exporter's heap.
	load(client, raw, conc, time.Second)
	load(client, probe, conc, time.Second)

	fmt.Printf("%-6s | %10s %8s %8s | %10s %8s %8s %10s %8s | %6s\n", "round", "raw req/s", "p50", "p99", "probes/s", "p50", "p99", "CPU/probe", "RSS", "ratio")
	var rawRates, probeRates, ratios, cpus, rsss []float64
	for r := 1; r <= rounds; r++ {
		rs := load(client, raw, conc, d)
		cpu0 := exp.cpuSeconds()
		ps := load(client, probe, conc, d)
		cpu := (exp.cpuSeconds() - cpu0) / float64(ps.ok)
		rss := exp.rssMiB()
		ratio := ps.rate() / rs.rate()
		fmt.Printf("%-6d | %10.0f %8s %8s | %10.0f %8s %8s %10s %6.1fMiB | %6.2f   (errors: raw %d, probe %d)\n", r,
			rs.rate(), rs.pct(50), rs.pct(99), ps.rate(), ps.pct(50), ps.pct(99), time.Duration(cpu*1e9).Round(time.Microsecond), rss, ratio, rs.failed, ps.failed)
		rawRates, probeRates, ratios = append(rawRates, rs.rate()), append(probeRates, ps.rate()), append(ratios, ratio)
		cpus, rsss = append(cpus, cpu), append(rsss, rss)
	}
	fmt.Printf("median | %10.0f %17s | %10.0f %17s %10s %6.1fMiB | %6.2f\n", median(rawRates), "", median(probeRates), "",
		time.Duration(median(cpus)*1e9).Round(time.Microsecond), median(rsss), median(ratios))
	fmt.Printf("spread | raw %.0f–%.0f req/s, exporter %.0f–%.0f probes/s, ratio %.2f–%.2f\n\n",
		slices.Min(rawRates), slices.Max(rawRates), slices.Min(probeRates), slices.Max(probeRates), slices.Min(ratios), slices.Max(ratios))

	if targets == 0 {
		return nil
	}
	var urls []string
	for h := 0; h < hosts && len(urls) < targets; h++ {
		u, err := serve(fleet, fmt.Sprintf("127.1.%d.%d:0", h/250, h%250+1))
		if err != nil {
			return fmt.Errorf("listening on host %d: %w", h, err)
		}
		for c := 1; c <= perHost && len(urls) < targets; c++ {
			urls = append(urls, fmt.Sprintf("http://%s/probe?target=%s/cc/%d", exp.addr, u, c))
		}
	}
	before := exp.rssMiB()
	start := time.Now()
	var total, failed int
	for p := 0; p < passes; p++ {
		s := loadList(client, urls, conc)
		total, failed = total+s.ok, failed+s.failed
	}
	took := time.Since(start)
	fmt.Printf("distinct targets: %d targets on %d hosts, %d passes: %d probes (%d failed) in %s, %.0f probes/s\n",
		len(urls), min(hosts, len(urls)), passes, total, failed, took.Round(time.Millisecond), float64(total)/took.Seconds())
	fmt.Printf("exporter RSS: %.1f MiB before, %.1f MiB after, peak %.1f MiB; open fds %d; goroutines %s\n",
		before, exp.rssMiB(), exp.peakMiB(), exp.openFDs(), exp.metric(client, "go_goroutines"))
	return nil
}

// stats of one phase.
type stats struct {
	ok, failed int
	took       time.Duration
	lat        []time.Duration
}

func (s stats) rate() float64 { return float64(s.ok) / s.took.Seconds() }

func (s stats) pct(p int) string {
	if len(s.lat) == 0 {
		return "-"
	}
	return s.lat[(len(s.lat)-1)*p/100].Round(time.Microsecond).String()
}

// load sends requests from conc workers for d; worker i asks for url(k)
// with k counting up across all workers.
func load(client *http.Client, url func(int64) string, conc int, d time.Duration) stats {
	var next atomic.Int64
	deadline := time.Now().Add(d)
	return workers(conc, func(lat *[]time.Duration) (bool, bool) {
		if time.Now().After(deadline) {
			return false, false
		}
		return true, get(client, url(next.Add(1)), lat)
	})
}

// loadList requests every URL once, from conc workers.
func loadList(client *http.Client, urls []string, conc int) stats {
	var next atomic.Int64
	return workers(conc, func(lat *[]time.Duration) (bool, bool) {
		k := next.Add(1) - 1
		if k >= int64(len(urls)) {
			return false, false
		}
		return true, get(client, urls[k], lat)
	})
}

// workers runs step in conc goroutines until it says stop; step returns
// (go on, succeeded).
func workers(conc int, step func(*[]time.Duration) (bool, bool)) stats {
	var mu sync.Mutex
	var all stats
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			ok, failed := 0, 0
			for {
				more, good := step(&lat)
				if !more {
					break
				}
				if good {
					ok++
				} else {
					failed++
				}
			}
			mu.Lock()
			all.ok, all.failed, all.lat = all.ok+ok, all.failed+failed, append(all.lat, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	all.took = time.Since(start)
	slices.Sort(all.lat)
	return all
}

func get(client *http.Client, url string, lat *[]time.Duration) bool {
	t0 := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		return false
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	*lat = append(*lat, time.Since(t0))
	return err == nil && resp.StatusCode == 200 && !strings.Contains(string(b), "bender_cc_up 0")
}

func serve(h http.Handler, addr string) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	go func() { _ = (&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}).Serve(l) }()
	return "http://" + l.Addr().String(), nil
}

func median(x []float64) float64 {
	s := slices.Sorted(slices.Values(x))
	return s[len(s)/2]
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "\nprocessor") + 1
}
