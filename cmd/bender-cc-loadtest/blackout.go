package main

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bender-cc/bender_cc_exporter/simulator"
)

// A blackout run (--blackout): a fleet scraped as Prometheus scrapes it —
// every controller once per --interval, spread over the interval, with the
// scrape-timeout header — by an exporter with its default flags (a config
// with the fleet's allowlist only), while a share of the fleet's sites go
// dark, whole, for some intervals and then come back. It reports each
// interval's scrapes of the healthy and of the dark controllers apart, and
// fails unless a dark site costs only itself (docs/performance.md,
// "Blackout"): the healthy controllers lose no scrape, every dark scrape is
// answered 200 with bender_cc_up 0 within the timeout, healthy p99 stays
// under a second, memory under the limit, no OOM kill, and the dark
// controllers read up 1 again from the second interval after their return.

// blackoutRun is the run's configuration.
type blackoutRun struct {
	exporter, simulator string   // binaries ("" simulator: no floor)
	extra               []string // extra exporter flags
	controllers         int
	perSite             int // controllers per site (one loopback host each)
	interval            time.Duration
	scrapeTimeout       time.Duration
	latency             time.Duration // a healthy controller's answer time
	share               float64       // of the sites that go dark
	mode                darkMode
	before, dark, back  int   // intervals: all answering; the sites dark; back
	memoryLimit         int64 // bytes: the peak memory that fails the run
}

// fleetTarget is one controller of a blackout run.
type fleetTarget struct {
	url  string
	site int
	dark bool // its site goes dark
}

// scrapeRecord is one scrape of the run and what came of it.
type scrapeRecord struct {
	interval int
	dark     bool
	straddle bool // in flight when the dark sites went dark or came back
	r        result
}

// slot is the j-th scrape of a run in which n targets are each scraped
// once per interval, spread evenly over it in the targets' order (which is
// by hash, as Prometheus offsets each target in the interval by a hash of
// its labels): which target, in which interval, at what time from the start.
func slot(j, n int, interval time.Duration) (target, intervalIndex int, at time.Duration) {
	return j % n, j / n, time.Duration(int64(interval) * int64(j) / int64(n))
}

// phaseOf names interval i: before, dark or back.
func (b *blackoutRun) phaseOf(i int) string {
	switch {
	case i < b.before:
		return "before"
	case i < b.before+b.dark:
		return "dark"
	}
	return "back"
}

func (b *blackoutRun) check() error {
	switch {
	case b.scrapeTimeout > b.interval:
		return fmt.Errorf("the scrape timeout (%s) is longer than the interval (%s); Prometheus refuses that", b.scrapeTimeout, b.interval)
	case b.dark < 3 || b.back < 2:
		return fmt.Errorf("a blackout run wants at least 3 dark intervals and 2 after the return (%d, %d)", b.dark, b.back)
	case b.share <= 0 || b.share > 1:
		return fmt.Errorf("--blackout %v: the share of the sites that go dark, in (0, 1]", b.share)
	case b.perSite <= 0 || b.controllers < b.perSite:
		return fmt.Errorf("%d controllers, %d per site: at least one whole site is needed", b.controllers, b.perSite)
	}
	return nil
}

// startFleet serves the simulated controllers, perSite on each loopback
// host, and returns the targets in the order they are scraped in.
func (b *blackoutRun) startFleet() ([]fleetTarget, []*site, error) {
	fleet, err := simulator.NewFleet(simulator.Options{Controllers: b.perSite, Seed: 1, Firmware: "mixed"})
	if err != nil {
		return nil, nil, err
	}
	if b.latency > 0 {
		for id := 1; id <= b.perSite; id++ {
			fleet.SetFault(id, &simulator.FaultSpec{Mode: simulator.FaultLatency, Delay: b.latency})
		}
	}
	n := (b.controllers + b.perSite - 1) / b.perSite
	dark := darkSites(n, b.share)
	var sites []*site
	var targets []fleetTarget
	for h := range n {
		s, err := startSite(fleet, fmt.Sprintf("127.1.%d.%d", h/250, h%250+1))
		if err != nil {
			for _, s := range sites {
				s.close()
			}
			return nil, nil, err
		}
		sites = append(sites, s)
		for c := 1; c <= b.perSite && len(targets) < b.controllers; c++ {
			targets = append(targets, fleetTarget{url: fmt.Sprintf("http://%s/cc/%d", s.addr, c), site: h, dark: dark[h]})
		}
	}
	slices.SortFunc(targets, func(x, y fleetTarget) int { return cmp.Compare(hash(x.url), hash(y.url)) })
	return targets, sites, nil
}

// startBlackoutExporter starts the exporter with its defaults and a config
// that allows /probe the simulated fleet's addresses only.
func (b *blackoutRun) startBlackoutExporter() (*exporterProc, func(), error) {
	dir, err := os.MkdirTemp("", "bender-cc-blackout")
	if err != nil {
		return nil, nil, err
	}
	cfg := filepath.Join(dir, "config.yml")
	err = os.WriteFile(cfg, []byte("# bender-cc-loadtest --blackout: every default, /probe limited to the simulated fleet\n"+
		"probe:\n  allowed_targets: [127.1.0.0/16]\n"), 0o600)
	var exp *exporterProc
	if err == nil {
		exp, err = startExporter(b.exporter, append([]string{"--config.file=" + cfg}, b.extra...))
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, err
	}
	return exp, func() { exp.stop(); _ = os.RemoveAll(dir) }, nil
}

func (b *blackoutRun) run() error {
	if err := b.check(); err != nil {
		return err
	}
	targets, sites, err := b.startFleet()
	if err != nil {
		return err
	}
	defer func() {
		for _, s := range sites {
			s.close()
		}
	}()
	exp, stopExporter, err := b.startBlackoutExporter()
	if err != nil {
		return err
	}
	defer stopExporter()

	intervals := b.before + b.dark + b.back
	nDark := 0
	for _, t := range targets {
		if t.dark {
			nDark++
		}
	}
	fmt.Printf("blackout run: %d controllers, %d per site on %d sites (loopback hosts); %d of them (%d controllers, %.0f %%) dark as %q for %d intervals after %d, then back for %d; each scraped every %s (%.0f probes/s), scrape timeout %s, healthy controllers answer after %s; %d CPUs; exporter %s (pid %d) %s %s\n",
		len(targets), b.perSite, len(sites), countTrue(darkSites(len(sites), b.share)), nDark, 100*float64(nDark)/float64(len(targets)),
		b.mode, b.dark, b.before, b.back, b.interval, float64(len(targets))/b.interval.Seconds(), b.scrapeTimeout, b.latency,
		numCPU(), b.exporter, exp.cmd.Process.Pid, strings.Join(extraEnv, " "), strings.Join(b.extra, " "))
	if cgroup != nil {
		fmt.Printf("exporter in memory cgroup %s: %s\n", cgroup.dir, cgroup.stats())
	}

	// As Prometheus' scrape client (prometheus/common's transport):
	// connections to the exporter kept alive, up to 1,000 idle, for 5 minutes.
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 20000, MaxIdleConnsPerHost: 1000, IdleConnTimeout: 5 * time.Minute}}
	start := time.Now()
	cpu0 := selfCPU()
	sampler := startSampler(exp, start)
	stopPoller, err := startPoller(exp.addr, start)
	if err != nil {
		return fmt.Errorf("starting the health poller: %w", err)
	}

	var (
		mu      sync.Mutex
		records = make([]scrapeRecord, 0, len(targets)*intervals)
		wg      sync.WaitGroup
		lag     time.Duration // the most a send was behind its time
	)
	header := strconv.FormatFloat(b.scrapeTimeout.Seconds(), 'f', -1, 64)
	for j := range len(targets) * intervals {
		ti, iv, at := slot(j, len(targets), b.interval)
		if w := time.Until(start.Add(at)); w > 0 {
			time.Sleep(w)
		} else {
			lag = max(lag, -w)
		}
		if ti == 0 && exp.died() == "" {
			if err := b.switchSites(sites, iv); err != nil {
				return err
			}
		}
		t := targets[ti]
		wantUp := !t.dark || b.phaseOf(iv) != "dark"
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := time.Since(start)
			r := probeOnce(client, "http://"+exp.addr+"/probe?target="+t.url, header, wantUp, start.Add(at), b.scrapeTimeout+5*time.Second)
			done := time.Since(start)
			straddle := false
			for _, sw := range []time.Duration{time.Duration(b.before) * b.interval, time.Duration(b.before+b.dark) * b.interval} {
				straddle = straddle || sent < sw && done >= sw
			}
			mu.Lock()
			records = append(records, scrapeRecord{interval: iv, dark: t.dark, straddle: straddle, r: r})
			mu.Unlock()
		}()
	}
	sendEnd := time.Since(start)
	wg.Wait()
	generatorCPU := selfCPU() - cpu0
	wall := time.Since(start)
	samples := sampler.stop()
	polls := stopPoller()

	fmt.Printf("sent %d scrapes in %s (scheduled %s, at most %s behind), all answered after %s; load generator and simulated fleet (this process): %.1f %% of one CPU\n",
		len(records), sendEnd.Round(time.Millisecond), time.Duration(intervals)*b.interval, lag.Round(time.Millisecond),
		wall.Round(time.Millisecond), 100*generatorCPU/wall.Seconds())
	f := b.figures(records, exp)
	f.print(samples, polls)
	if b.simulator != "" {
		healthyRate := float64(len(targets)-nDark) / b.interval.Seconds()
		fl := &openLoop{simulator: b.simulator, rate: healthyRate, duration: 10 * time.Second}
		if cost, err := fl.measureFloor(client, b.perSite); err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
		} else {
			fmt.Printf("the simulator alone (its binary, raw requests at the healthy controllers' %.0f/s for 10 s): %s CPU per request, %.1f %% of one CPU\n",
				healthyRate, cost.Round(time.Microsecond), 100*healthyRate*cost.Seconds())
		}
	}
	if errs := f.verdict(blackoutLimits{p99: time.Second, memory: b.memoryLimit}); len(errs) > 0 {
		return fmt.Errorf("FAILED: %w", errors.Join(errs...))
	}
	fmt.Println("PASS: the healthy controllers lost no scrape (p99 under 1 s), every dark scrape was answered 200 with bender_cc_up 0 in time, memory under the limit, no OOM kill, the dark sites up again from the second interval after their return")
	return nil
}

// switchSites makes the dark sites go dark at the start of the first dark
// interval and come back at the start of the first interval after it.
func (b *blackoutRun) switchSites(sites []*site, iv int) error {
	if iv != b.before && iv != b.before+b.dark {
		return nil
	}
	dark := darkSites(len(sites), b.share)
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(sites))
	for i, s := range sites {
		if !dark[i] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if iv == b.before {
				errs[i] = s.goDark(b.mode)
			} else {
				errs[i] = s.comeBack()
			}
		}()
	}
	wg.Wait()
	what := "went dark"
	if iv != b.before {
		what = "came back"
	}
	fmt.Printf("%s: %d sites %s (took %s)\n", (time.Duration(iv) * b.interval).Round(time.Second), countTrue(dark), what, time.Since(t0).Round(time.Millisecond))
	return errors.Join(errs...)
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
