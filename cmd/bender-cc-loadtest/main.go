// Command bender-cc-loadtest measures the exporter on loopback, against a
// simulated fleet and the exporter binary:
//
//   - open loop (--rate or --interval): probes at a fixed rate, spread over
//     the controllers as Prometheus spreads scrapes, with the scrape-timeout
//     header, optionally with misbehaving controllers (--faults) and config
//     reloads (--reload-every); reports the exporter's CPU per probe and in
//     % of one CPU, RSS, fds, goroutines, latency from the intended send time,
//     and the simulator's own CPU per raw request at that rate as the floor;
//     fails on any lost or wrong answer or on growth. This is what sizing
//     and CI use (docs/performance.md).
//   - blackout (--blackout): the fleet scraped as Prometheus scrapes it
//     while a share of its sites go dark, whole, and come back; reports
//     the healthy and the dark controllers' scrapes apart, per interval,
//     and fails unless a dark site costs only itself (blackout.go).
//   - closed loop (default): in interleaved rounds, hammers the simulator
//     directly (raw GET /rest/full_state) and through the exporter (/probe)
//     and reports throughput at saturation, then probes many distinct
//     targets on many hosts and reports what the exporter holds afterwards.
//   - peers (--peers, make bench-peers): this exporter and blackbox_exporter
//     against the same fleet, open loop and saturation interleaved, and the
//     ratios of their CPU per probe (peers.go).
package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
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

		blackout        = app.Flag("blackout", "Blackout run: the share of the sites (--per-host controllers on one loopback host each) that go dark, whole; every controller is scraped once per --interval (default 15s).").Float64()
		darkModeName    = app.Flag("dark-mode", "Blackout run: how a site goes dark: hang (accepts, never answers) or no-syn-ack (a connect never completes).").Default(string(darkHang)).String()
		beforeIntervals = app.Flag("before-intervals", "Blackout run: intervals with every site answering, before the dark.").Default("1").Int()
		darkIntervals   = app.Flag("dark-intervals", "Blackout run: intervals the sites stay dark (3 at least).").Default("3").Int()
		backIntervals   = app.Flag("back-intervals", "Blackout run: intervals after the sites come back (2 at least: they must read up from the second).").Default("2").Int()
		blackoutMemory  = app.Flag("blackout-memory-limit", "Blackout run: the exporter's peak memory (its cgroup's, else its RSS) that fails the run.").Default("100MiB").Bytes()
	)
	peers := addPeerFlags(app)
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
	if *blackout > 0 {
		mode, err := parseDarkMode(*darkModeName)
		if err != nil {
			exit(err)
		}
		if *interval <= 0 {
			*interval = 15 * time.Second
		}
		b := &blackoutRun{exporter: *exporter, simulator: *simulatorBin, extra: *exporterArg, controllers: *controllers, perSite: *perHost,
			interval: *interval, scrapeTimeout: *scrapeTimeout, latency: *latency, share: *blackout, mode: mode,
			before: *beforeIntervals, dark: *darkIntervals, back: *backIntervals, memoryLimit: int64(*blackoutMemory)}
		exit(b.run())
		return
	}
	if peers.enabled {
		exit(peers.run(&openLoop{exporter: *exporter, extra: *exporterArg, controllers: *controllers, perHost: *perHost,
			rate: *rate, scrapeTimeout: *scrapeTimeout, latency: *latency}))
		return
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
