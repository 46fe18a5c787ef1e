package main

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bender-cc/bender_cc_exporter/simulator"
)

// An overload run (--overload-rate): three phases of --duration each, as
// an exporter meets an overload in production. Normal load (--rate); then
// the overload: more controllers at the same interval (--overload-rate)
// while a share of them hang (--hang, a VPN down in front of them); then
// normal load again. Every controller is probed once per --interval, so
// the overload is more work, not the same controllers more often (which
// the exporter would answer from one shared request).
//
// It fails when the exporter dies (an OOM kill in --cgroup-memory), when
// /-/healthy, /-/ready or /metrics fail or take more than a second three
// times in a row or on more than 10 % of a phase's polls, when more than
// one probe in a thousand takes longer than the scrape timeout, when
// anything but an answer (200 with bender_cc_up, or 503) or a refused
// connection comes back during the overload, when RSS, fds or goroutines
// keep growing through the overload, and when more than one probe in a
// thousand is wrong before it or from one interval after it.

// phase of an overload run.
type phase struct {
	name        string
	rate        float64
	controllers int // the first controllers of the (hash-ordered) targets
	start, end  time.Duration
	hang        bool
}

// health is one poll of an exporter endpoint.
type health struct {
	at, took time.Duration
	path     string
	err      string
}

func (o *openLoop) runOverload() error {
	if o.interval <= 0 {
		o.interval = 10 * time.Second
	}
	if o.scrapeTimeout > o.interval {
		return fmt.Errorf("the scrape timeout (%s) is longer than the interval (%s); Prometheus refuses that", o.scrapeTimeout, o.interval)
	}
	o.controllers = max(o.controllers, int(o.overloadRate*o.interval.Seconds()+0.5))
	targets, _, hosts, err := o.startFleet()
	if err != nil {
		return err
	}
	exp, _, stopExporter, err := o.startConfigured()
	if err != nil {
		return err
	}
	defer stopExporter()

	normal := min(len(targets), int(o.rate*o.interval.Seconds()+0.5))
	d := o.duration
	phases := []phase{
		{"normal", o.rate, normal, 0, d, false},
		{"overload", o.overloadRate, len(targets), d, 2 * d, true},
		{"recovery", o.rate, normal, 2 * d, 3 * d, false},
	}
	fmt.Printf("overload run: %d controllers on %d hosts, each probed every %s; normal %.0f probes/s (%d controllers), overload %.0f probes/s (%d controllers, %d%% of them hanging: %d of every %d), %s per phase; scrape timeout %s; %d CPUs; exporter %s (pid %d) %s %s\n",
		len(targets), hosts, o.interval, o.rate, normal, o.overloadRate, len(targets), int(100*o.hang+0.5), len(o.hangIDs), o.fleet.Len(), d,
		o.scrapeTimeout, numCPU(), o.exporter, exp.cmd.Process.Pid, strings.Join(extraEnv, " "), strings.Join(o.extra, " "))
	if cgroup != nil {
		fmt.Printf("exporter in memory cgroup %s: %s\n", cgroup.dir, cgroup.stats())
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 64, IdleConnTimeout: 30 * time.Second}}
	probeURL := func(t target) string { return "http://" + exp.addr + "/probe?target=" + t.url }
	for i := 0; i < normal && i < 200; i++ {
		if resp, err := client.Get(probeURL(targets[i])); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	}

	var (
		mu       sync.Mutex
		results  = make([][]result, len(phases))
		intended = make([][]time.Duration, len(phases))
		polls    []health
		samples  []sample
		wg       sync.WaitGroup
		stop     = make(chan struct{})
	)
	start := time.Now()
	stopPoller, err := startPoller(exp.addr, start)
	if err != nil {
		return fmt.Errorf("starting the health poller: %w", err)
	}
	kept := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			s := sample{at: time.Since(start)}
			s.rss, _ = exp.status("VmRSS")
			s.fds, _ = exp.fds()
			if m, err := exp.scrape(kept, "go_goroutines"); err == nil && m["go_goroutines"] != nil {
				s.goroutines = int(*m["go_goroutines"])
			}
			if exp.died() == "" {
				mu.Lock()
				samples = append(samples, s)
				mu.Unlock()
			}
		}
	}()

	header := strconv.FormatFloat(o.scrapeTimeout.Seconds(), 'f', -1, 64)
	for pi, p := range phases {
		for _, id := range o.hangIDs {
			var spec *simulator.FaultSpec
			if p.hang {
				spec = &simulator.FaultSpec{Mode: simulator.FaultHang}
			}
			o.fleet.SetFault(id, spec)
		}
		total := int(p.rate * (p.end - p.start).Seconds())
		for j := 0; j < total && exp.died() == ""; j++ {
			at := p.start + time.Duration(float64(j)/p.rate*float64(time.Second))
			if w := time.Until(start.Add(at)); w > 0 {
				time.Sleep(w)
			}
			t := targets[j%p.controllers]
			t.wantUp = t.wantUp && (!p.hang || !o.hangs(t))
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := probeOnce(client, probeURL(t), header, t.wantUp, start.Add(at), o.scrapeTimeout+5*time.Second)
				mu.Lock()
				results[pi] = append(results[pi], r)
				intended[pi] = append(intended[pi], at)
				mu.Unlock()
			}()
		}
	}
	sendEnd := time.Since(start)
	wg.Wait()
	close(stop)
	bg.Wait()
	polls = stopPoller()
	return o.overloadReport(exp, phases, results, intended, polls, samples, sendEnd)
}

// hangs says whether t is one of the controllers that hang.
func (o *openLoop) hangs(t target) bool {
	i := strings.LastIndex(t.url, "/cc/")
	id, err := strconv.Atoi(t.url[i+4:])
	return i >= 0 && err == nil && slices.Contains(o.hangIDs, id)
}
