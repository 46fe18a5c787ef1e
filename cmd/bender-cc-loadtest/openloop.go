package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bender-cc/bender_cc_exporter/simulator"
)

// openLoop describes a run at a fixed rate, as Prometheus scrapes: every
// target once per interval, the targets spread evenly over it, each request
// sent at its time whether or not earlier ones have been answered.
type openLoop struct {
	exporter, simulator  string   // binaries
	extra                []string // extra exporter flags
	controllers, perHost int      // controllers, and how many of them one loopback host serves
	rate                 float64  // probes per second
	duration             time.Duration
	scrapeTimeout        time.Duration
	latency              time.Duration // every healthy controller's answer time
	faults               float64       // share of controllers that misbehave
	reloadEvery          time.Duration
	floor                bool          // measure the simulator's own CPU per raw request at the same rate
	modbus               bool          // probe the controllers over Modbus TCP (module source: modbus)
	hang                 float64       // share of well-behaved controllers that hang (in an overload run: during the overload)
	overloadRate         float64       // probes per second in the overload phase (0: no overload run)
	interval             time.Duration // overload run: each controller's scrape interval

	fleet   *simulator.Fleet
	hangIDs []int // the fleet's controllers that hang (--hang)

	peak float64 // the exporter's RSS high-water mark (VmHWM), MiB
}

// result of one probe.
type result struct {
	lat     time.Duration // from the intended send time
	ok      bool          // HTTP 200 with a bender_cc_up line
	wrongUp bool
	wantUp  bool // the bender_cc_up the controller should read: false for a hanging or dark one
	failure string
	up      bool          // the answer's bender_cc_up (when ok)
	code    int           // HTTP status, 0 without an answer
	sent    time.Duration // from the actual send (the load generator may lag behind the schedule)
}

// sample of the exporter's resources at one moment.
type sample struct {
	at              time.Duration
	rss             float64
	fds, goroutines int
	cpu             float64 // exporter CPU seconds since the start
	probes          int64   // the exporter's bender_cc_exporter_probes_total since the start
}

func (o *openLoop) run() error {
	targets, fleetSize, hosts, err := o.startFleet()
	if err != nil {
		return err
	}

	exp, cfgPath, stopExporter, err := o.startConfigured()
	if err != nil {
		return err
	}
	defer stopExporter()

	interval := time.Duration(float64(len(targets)) / o.rate * float64(time.Second))
	fmt.Printf("open loop: %d controllers (%d misbehaving) on %d hosts, %.0f probes/s (each controller every %s), %s, scrape timeout %s, healthy controllers answer after %s; %d CPUs; open-file limit %d; exporter %s (pid %d) %s\n",
		len(targets), countFaulty(targets), hosts, o.rate, interval.Round(time.Millisecond), o.duration,
		o.scrapeTimeout, o.latency, numCPU(), fdLimit(), o.exporter, exp.cmd.Process.Pid, strings.Join(o.extra, " "))

	// Like Prometheus, reuse connections to the exporter; keep few idle ones,
	// so that the exporter's fds follow the load instead of its past peaks.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 64, IdleConnTimeout: 30 * time.Second}}
	probeURL := func(t target) string { return "http://" + exp.addr + "/probe?target=" + t.url }
	// Warm-up: one pass over a sample of the targets.
	for i := 0; i < len(targets) && i < 200; i++ {
		if targets[i].faulty {
			continue // a hanging one would hold the warm-up for its timeout
		}
		if resp, err := client.Get(probeURL(targets[i])); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	}

	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
		stop    = make(chan struct{})
		samples []sample
		reloads struct{ done, bad, mismatched int }
	)
	start := time.Now()
	// A reading fails when the load test itself runs out of file
	// descriptors; such a sample is skipped, never recorded as zeros.
	read := func() (sample, error) {
		cpu, errCPU := exp.cpu()
		rss, errRSS := exp.status("VmRSS")
		fds, errFDs := exp.fds()
		m, errM := exp.scrape(client, "go_goroutines", "bender_cc_exporter_probes_total")
		if err := errors.Join(errCPU, errRSS, errFDs, errM); err != nil {
			return sample{}, err
		}
		if m["go_goroutines"] == nil || m["bender_cc_exporter_probes_total"] == nil {
			return sample{}, errors.New("the exporter's /metrics lacks go_goroutines or bender_cc_exporter_probes_total")
		}
		return sample{at: time.Since(start), rss: rss, fds: fds, cpu: cpu, goroutines: int(*m["go_goroutines"]),
			probes: int64(*m["bender_cc_exporter_probes_total"])}, nil
	}
	first, err := read()
	if err != nil {
		return fmt.Errorf("reading the exporter's resources: %w", err)
	}
	var skipped struct {
		n   int
		err error
	}
	take := func() (sample, bool) {
		s, err := read()
		if err != nil {
			skipped.n, skipped.err = skipped.n+1, err
			return s, false
		}
		s.cpu -= first.cpu
		s.probes -= first.probes
		return s, true
	}
	// Resources every 5 s (more often in short runs); config reloads.
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		every := min(5*time.Second, max(time.Second, o.duration/20))
		if cgroup != nil {
			every = 500 * time.Millisecond // an OOM kill comes within seconds
		}
		tick := time.NewTicker(every)
		defer tick.Stop()
		var reload <-chan time.Time
		if o.reloadEvery > 0 {
			rt := time.NewTicker(o.reloadEvery)
			defer rt.Stop()
			reload = rt.C
		}
		if s, ok := take(); ok {
			samples = append(samples, s)
		}
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if s, ok := take(); ok {
					mu.Lock()
					samples = append(samples, s)
					mu.Unlock()
				}
			case <-reload:
				// Every third reload is invalid: the exporter must keep the
				// old config, say so in its metric, and keep answering.
				reloads.done++
				valid := reloads.done%3 != 0
				if !valid {
					reloads.bad++
				}
				if err := writeConfig(cfgPath, reloads.done, valid); err == nil {
					_ = exp.cmd.Process.Signal(syscall.SIGHUP)
				}
				time.Sleep(200 * time.Millisecond)
				want := "1"
				if !valid {
					want = "0"
				}
				if got := exp.metric(client, "bender_cc_exporter_config_last_reload_successful"); got != want {
					reloads.mismatched++
					fmt.Fprintf(os.Stderr, "reload %d (valid %v): last_reload_successful %s, want %s\n", reloads.done, valid, got, want)
				}
			}
		}
	}()

	// The schedule: probe j at start + j/rate, to targets in turn.
	header := strconv.FormatFloat(o.scrapeTimeout.Seconds(), 'f', -1, 64)
	total := int(o.rate * o.duration.Seconds())
	for j := 0; j < total; j++ {
		intended := start.Add(time.Duration(float64(j) / o.rate * float64(time.Second)))
		if d := time.Until(intended); d > 0 {
			time.Sleep(d)
		}
		t := targets[j%len(targets)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := probeOnce(client, probeURL(t), header, t.wantUp, intended, o.scrapeTimeout+5*time.Second)
			mu.Lock()
			results = append(results, r)
			mu.Unlock()
		}()
	}
	sendEnd := time.Since(start)
	wg.Wait()
	wall := time.Since(start)
	close(stop)
	bg.Wait()
	if cgroup != nil {
		fmt.Printf("memory cgroup: %s\n", cgroup.stats())
	}
	if d := exp.died(); d != "" {
		for _, s := range samples {
			fmt.Printf("at %s: RSS %.1f MiB, %d fds, %d goroutines\n", s.at.Round(time.Millisecond), s.rss, s.fds, s.goroutines)
		}
		return fmt.Errorf("the exporter %s (%d probes sent in %s)", d, len(results), sendEnd.Round(time.Millisecond))
	}
	// Once the probes are answered the load test has descriptors again.
	end, ok := take()
	for try := 0; !ok && try < 20; try++ {
		time.Sleep(250 * time.Millisecond)
		end, ok = take()
	}
	if !ok {
		return fmt.Errorf("reading the exporter's resources at the end: %w", skipped.err)
	}
	o.peak = exp.peakMiB()
	samples = append(samples, end)
	if skipped.n > 0 {
		fmt.Printf("%d resource samples skipped, the last because: %v\n", skipped.n, skipped.err)
	}

	// The floor: the simulator's own CPU per raw request at the same rate.
	floor := "-"
	if o.floor {
		if f, err := o.measureFloor(client, fleetSize); err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
		} else {
			floor = f.Round(time.Microsecond).String()
		}
	}
	return o.report(results, samples, end, wall, sendEnd, floor, reloads.done, reloads.bad, reloads.mismatched)
}

func probeOnce(client *http.Client, url, timeoutHeader string, wantUp bool, intended time.Time, limit time.Duration) result {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", timeoutHeader)
	c := *client
	c.Timeout = limit
	t0 := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return result{lat: time.Since(intended), sent: time.Since(t0), failure: err.Error(), wantUp: wantUp}
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	r := result{lat: time.Since(intended), sent: time.Since(t0), code: resp.StatusCode, wantUp: wantUp}
	switch body := string(b); {
	case err != nil:
		r.failure = err.Error()
	case resp.StatusCode != http.StatusOK:
		r.failure = fmt.Sprintf("HTTP %d: %.80s", resp.StatusCode, body)
	case strings.Contains(body, "\nbender_cc_up 1\n"):
		r.ok, r.up, r.wrongUp = true, true, !wantUp
	case strings.Contains(body, "\nbender_cc_up 0\n"):
		r.ok, r.wrongUp = true, wantUp
	default:
		r.failure = "no bender_cc_up in the answer"
	}
	return r
}
