//go:build linux

package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bender-cc/bender_cc_exporter/simulator"
)

// BenchmarkProbeCost is what one probe costs the exporter process in system
// calls, context switches (wake-ups), allocations and CPU: the exporter runs
// as a child process (its /proc alone is read), a simulated controller on
// loopback in this one, and probes go through the real HTTP server on a
// kept-alive connection, as Prometheus sends them.
//
//   - alone: one probe at a time after an idle gap, the controller answering
//     after 5 ms: Prometheus' rhythm, where every probe wakes the runtime
//     from idle (docs/performance.md "A probe that arrives alone").
//   - queued: 8 probes at a time back to back, the controller answering at
//     once: saturation, where the wake-ups are shared.
//
// A change that adds a write, a timer or a goroutine hand-off per probe
// shows in writes/op, ctxsw/op or allocs/op here. Nothing is asserted: the
// figures are compared in review (before and after, -count 5).
func BenchmarkProbeCost(b *testing.B) {
	for _, c := range []struct {
		name    string
		gap     time.Duration
		latency time.Duration
		workers int
	}{
		{"alone", 2 * time.Millisecond, 5 * time.Millisecond, 1},
		{"queued", 0, 0, 8},
	} {
		b.Run(c.name, func(b *testing.B) {
			fleet, err := simulator.NewFleet(simulator.Options{Controllers: 10, Seed: 1, Firmware: "5.33"})
			if err != nil {
				b.Fatal(err)
			}
			if c.latency > 0 {
				for id := 1; id <= fleet.Len(); id++ {
					fleet.SetFault(id, &simulator.FaultSpec{Mode: simulator.FaultLatency, Delay: c.latency})
				}
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := &http.Server{Handler: fleet, ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = srv.Serve(l) }()
			b.Cleanup(func() { _ = srv.Close() })

			addr, cmd, _ := startChild(b, child{maxConns: -1})
			pid := cmd.Process.Pid
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.workers}}
			b.Cleanup(client.CloseIdleConnections)
			var n atomic.Int64
			probeOnce := func() {
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/probe?target=%s/cc/%d", addr, l.Addr(), n.Add(1)%10+1), nil)
				req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				body, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "\nbender_cc_up 1\n") {
					b.Errorf("probe: %d %v %.200s", resp.StatusCode, err, body)
				}
			}
			for range 50 { // warm: connections, the child's heap and stacks
				probeOnce()
			}

			m0 := childMetrics(b, client, addr)
			m1 := childMetrics(b, client, addr) // m1 - m0: what one scrape of /metrics costs
			p1 := childProc(b, pid)
			b.ResetTimer()
			var wg sync.WaitGroup
			var next atomic.Int64
			for range c.workers {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if c.gap > 0 {
							time.Sleep(c.gap)
						}
						probeOnce()
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			p2 := childProc(b, pid)
			m2 := childMetrics(b, client, addr)
			per := func(v float64) float64 { return v / float64(b.N) }
			b.ReportMetric(per(p2.reads-p1.reads), "reads/op")
			b.ReportMetric(per(p2.writes-p1.writes), "writes/op")
			b.ReportMetric(per(p2.switches-p1.switches), "ctxsw/op")
			b.ReportMetric(per(p2.cpuNS-p1.cpuNS), "exporter-cpu-ns/op")
			for _, m := range []struct{ name, unit string }{
				{"go_memstats_mallocs_total", "exporter-allocs/op"},
				{"go_memstats_alloc_bytes_total", "exporter-B/op"},
				{"go_gc_duration_seconds_count", "gc/op"},
			} {
				b.ReportMetric(per(m2[m.name]-m1[m.name]-(m1[m.name]-m0[m.name])), m.unit)
			}
		})
	}
}

// procCounters are a process's counters from /proc, all threads summed.
type procCounters struct {
	reads, writes float64 // read and write system calls (/proc/<pid>/io syscr, syscw)
	switches      float64 // voluntary and involuntary context switches
	cpuNS         float64 // time on a CPU (schedstat)
}

func childProc(b *testing.B, pid int) procCounters {
	b.Helper()
	var c procCounters
	ioStats, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		b.Skipf("no /proc/<pid>/io here: %v", err)
	}
	for line := range strings.Lines(string(ioStats)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ": ")
		f, _ := strconv.ParseFloat(v, 64)
		switch k {
		case "syscr":
			c.reads = f
		case "syscw":
			c.writes = f
		}
	}
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	if err != nil || len(tasks) == 0 {
		b.Fatalf("threads of %d: %v", pid, err)
	}
	for _, t := range tasks {
		if st, err := os.ReadFile(t + "/status"); err == nil {
			for line := range strings.Lines(string(st)) {
				if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
					f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
					c.switches += f
				}
			}
		}
		if ss, err := os.ReadFile(t + "/schedstat"); err == nil {
			f, _ := strconv.ParseFloat(strings.Fields(string(ss))[0], 64)
			c.cpuNS += f
		}
	}
	return c
}

// childMetrics reads the child's unlabelled series from /metrics.
func childMetrics(b *testing.B, client *http.Client, addr string) map[string]float64 {
	b.Helper()
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	m := map[string]float64{}
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		if name, v, ok := strings.Cut(s.Text(), " "); ok && !strings.HasPrefix(name, "#") && !strings.Contains(name, "{") {
			m[name], _ = strconv.ParseFloat(v, 64)
		}
	}
	return m
}
