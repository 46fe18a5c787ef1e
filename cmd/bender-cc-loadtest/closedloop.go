package main

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bender-cc/bender_cc_exporter/simulator"
)

// run is the default, closed-loop run: in rounds, a fixed number of workers
// send probes (and, interleaved, raw requests to the simulated controllers)
// as fast as they are answered.
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
