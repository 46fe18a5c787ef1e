package main

import (
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bender-cc/bender_cc_exporter/internal/loopback"
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
	floor                bool // measure the simulator's own CPU per raw request at the same rate
	modbus               bool // probe the controllers over Modbus TCP (module source: modbus)

	peak float64 // the exporter's RSS high-water mark (VmHWM), MiB
}

// faultCycle is what misbehaving controllers do, in turn; up is the
// bender_cc_up the exporter must report for each.
var faultCycle = []struct {
	mode string
	up   bool
}{
	{"hang", false}, {"500", false}, {"garbage", false}, {"truncated", false}, {"latency:2s", true},
}

// target is one controller as the load generator sees it.
type target struct {
	url            string
	faulty, wantUp bool
}

// result of one probe.
type result struct {
	lat     time.Duration // from the intended send time
	ok      bool          // HTTP 200 with a bender_cc_up line
	wrongUp bool
	failure string
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
	// One simulated fleet of perHost controllers, served on as many
	// loopback hosts (127.1.x.y) as it takes: distinct targets on distinct
	// hosts, as a real fleet is.
	fleetSize := min(o.controllers, o.perHost)
	hosts := (o.controllers + fleetSize - 1) / fleetSize
	fleet, err := simulator.NewFleet(simulator.Options{Controllers: fleetSize, Seed: 1, Firmware: "mixed"})
	if err != nil {
		return err
	}
	// Misbehaving controllers: every step-th of the fleet (so on every
	// host), their modes in turn from faultCycle.
	proto := make([]target, fleetSize+1)
	step := 0
	if o.faults > 0 {
		step = max(1, int(1/o.faults+0.5))
	}
	for id, n := 1, 0; id <= fleetSize; id++ {
		proto[id].wantUp = true
		if step > 0 && id%step == 0 {
			f := faultCycle[n%len(faultCycle)]
			spec, err := simulator.ParseFault(f.mode)
			if err != nil {
				return err
			}
			fleet.SetFault(id, spec)
			proto[id] = target{faulty: true, wantUp: f.up}
			n++
		} else if o.latency > 0 {
			fleet.SetFault(id, &simulator.FaultSpec{Mode: simulator.FaultLatency, Delay: o.latency})
		}
	}
	var targets []target
	for h := 0; h < hosts; h++ {
		addr := "127.0.0.1:0"
		if hosts > 1 {
			addr = fmt.Sprintf("127.1.%d.%d:0", h/250, h%250+1)
		}
		if o.modbus {
			// One Modbus server per controller and host: controller c on
			// port 20000 + c of each host, as one controller per address.
			host := "127.0.0.1"
			if hosts > 1 {
				host = fmt.Sprintf("127.1.%d.%d", h/250, h%250+1)
			}
			for c := 1; c <= fleetSize && len(targets) < o.controllers; c++ {
				a := net.JoinHostPort(host, strconv.Itoa(20000+c))
				if _, err := fleet.ServeModbusDirect(c, a); err != nil {
					return fmt.Errorf("modbus on %s: %w", a, err)
				}
				t := proto[c]
				t.url = "modbus://" + a + "&module=modbus"
				targets = append(targets, t)
			}
			continue
		}
		u, err := serve(fleet, addr)
		if err != nil {
			return fmt.Errorf("listening on host %d: %w", h, err)
		}
		for c := 1; c <= fleetSize && len(targets) < o.controllers; c++ {
			t := proto[c]
			t.url = fmt.Sprintf("%s/cc/%d", u, c)
			targets = append(targets, t)
		}
	}
	// Prometheus gives each target a fixed offset in the interval from a
	// hash of its labels; sorting by a hash of the URL does the same.
	slices.SortFunc(targets, func(a, b target) int { return cmp.Compare(hash(a.url), hash(b.url)) })

	dir, err := os.MkdirTemp("", "bender-cc-loadtest")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	cfgPath := filepath.Join(dir, "config.yml")
	if err := writeConfig(cfgPath, 0, true); err != nil {
		return err
	}
	exp, err := startExporter(o.exporter, append([]string{"--config.file=" + cfgPath}, o.extra...))
	if err != nil {
		return err
	}
	defer exp.stop()

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
	resp, err := c.Do(req)
	if err != nil {
		return result{lat: time.Since(intended), failure: err.Error()}
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	r := result{lat: time.Since(intended)}
	switch body := string(b); {
	case err != nil:
		r.failure = err.Error()
	case resp.StatusCode != http.StatusOK:
		r.failure = fmt.Sprintf("HTTP %d: %.80s", resp.StatusCode, body)
	case strings.Contains(body, "\nbender_cc_up 1\n"):
		r.ok, r.wrongUp = true, !wantUp
	case strings.Contains(body, "\nbender_cc_up 0\n"):
		r.ok, r.wrongUp = true, wantUp
	default:
		r.failure = "no bender_cc_up in the answer"
	}
	return r
}

// measureFloor runs the simulator binary alone and sends it raw requests
// at the same rate for up to 20 s: its CPU per request is what answering a
// request costs on this machine, the floor under any exporter's cost.
func (o *openLoop) measureFloor(client *http.Client, controllers int) (time.Duration, error) {
	if o.simulator == "" {
		return 0, errors.New("no --simulator binary")
	}
	addr, err := loopback.FreeAddr()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(o.simulator, "--listen="+addr, fmt.Sprintf("--controllers=%d", controllers))
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	sim := &exporterProc{cmd: cmd, addr: addr, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(sim.exited) }()
	defer sim.stop()
	if err := loopback.WaitReady("http://"+addr+"/cc/1/rest/full_state", sim.exited, 5*time.Second); err != nil {
		return 0, fmt.Errorf("%s on %s: %w", o.simulator, addr, err)
	}
	d := min(o.duration, 20*time.Second)
	n := int(o.rate * d.Seconds())
	cpu0 := sim.cpuSeconds()
	start := time.Now()
	var wg sync.WaitGroup
	var okN atomic.Int64
	for j := 0; j < n; j++ {
		if w := time.Until(start.Add(time.Duration(float64(j) / o.rate * float64(time.Second)))); w > 0 {
			time.Sleep(w)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(fmt.Sprintf("http://%s/cc/%d/rest/full_state", addr, j%controllers+1))
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				okN.Add(1)
			}
		}()
	}
	wg.Wait()
	if okN.Load() == 0 {
		return 0, errors.New("the simulator answered nothing")
	}
	return time.Duration((sim.cpuSeconds() - cpu0) / float64(okN.Load()) * 1e9), nil
}

func (o *openLoop) report(results []result, samples []sample, end sample, wall, sendEnd time.Duration, floor string, reloads, badReloads, reloadMismatch int) error {
	var lats []time.Duration
	var failed, wrongUp int
	failures := map[string]int{}
	for _, r := range results {
		lats = append(lats, r.lat)
		if !r.ok {
			failed++
			failures[firstWords(r.failure)]++
		}
		if r.wrongUp {
			wrongUp++
		}
	}
	slices.Sort(lats)
	pct := func(p float64) time.Duration { return lats[int(float64(len(lats)-1)*p)].Round(100 * time.Microsecond) }
	cpuPerProbe := time.Duration(end.cpu / float64(len(results)) * 1e9)
	fmt.Printf("sent %d probes in %s (%.0f/s achieved), all answered after %s\n", len(results), sendEnd.Round(time.Millisecond),
		float64(len(results))/sendEnd.Seconds(), wall.Round(time.Millisecond))
	fmt.Printf("exporter CPU: %s per probe, %.1f %% of one CPU; floor (simulator alone, CPU per raw request at this rate): %s\n",
		cpuPerProbe.Round(time.Microsecond), 100*end.cpu/wall.Seconds(), floor)
	fmt.Printf("latency from the intended send time: p50 %s, p90 %s, p99 %s, max %s\n", pct(0.5), pct(0.9), pct(0.99), lats[len(lats)-1].Round(time.Millisecond))
	fmt.Printf("answers: %d failed (not HTTP 200 with bender_cc_up), %d with a wrong bender_cc_up; reloads: %d (%d invalid), %d with a wrong reload metric\n",
		failed, wrongUp, reloads, badReloads, reloadMismatch)
	for f, n := range failures {
		fmt.Printf("  %d × %s\n", n, f)
	}
	first := samples[0]
	peakRSS, peakFDs, peakG := 0.0, 0, 0
	for _, s := range samples {
		peakRSS, peakFDs, peakG = max(peakRSS, s.rss), max(peakFDs, s.fds), max(peakG, s.goroutines)
	}
	fmt.Printf("exporter resources: RSS %.1f → %.1f MiB (peak %.1f, high-water %.1f); fds %d → %d (peak %d); goroutines %d → %d (peak %d)\n",
		first.rss, end.rss, peakRSS, o.peak, first.fds, end.fds, peakFDs, first.goroutines, end.goroutines, peakG)
	fmt.Printf("%8s %9s %6s %11s %12s\n", "time", "RSS MiB", "fds", "goroutines", "CPU %")
	prev := sample{}
	for _, s := range samples {
		cpuPct := 0.0
		if dt := (s.at - prev.at).Seconds(); dt > 0 {
			cpuPct = 100 * (s.cpu - prev.cpu) / dt
		}
		fmt.Printf("%8s %9.1f %6d %11d %12.1f\n", s.at.Round(time.Second), s.rss, s.fds, s.goroutines, cpuPct)
		prev = s
	}

	var errs []error
	if failed > 0 {
		errs = append(errs, fmt.Errorf("%d probes failed", failed))
	}
	if wrongUp > 0 {
		errs = append(errs, fmt.Errorf("%d probes with a wrong bender_cc_up", wrongUp))
	}
	if reloadMismatch > 0 {
		errs = append(errs, fmt.Errorf("%d reloads with a wrong last_reload_successful", reloadMismatch))
	}
	if end.probes != int64(len(results)) {
		errs = append(errs, fmt.Errorf("the exporter counted %d probes in bender_cc_exporter_probes_total, %d were sent", end.probes, len(results)))
	}
	// Connections to controllers build up over the first scrape intervals;
	// growth means something only once every target has been probed a few times.
	if interval := time.Duration(float64(o.controllers) / o.rate * float64(time.Second)); o.duration >= 3*interval {
		if err := growth(samples); err != nil {
			errs = append(errs, err)
		}
	} else {
		fmt.Printf("growth not judged: the run is shorter than 3 scrape intervals (%s)\n", 3*interval)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("FAILED: %w", err)
	}
	fmt.Println("PASS: every probe answered 200 with the right bender_cc_up, reloads as expected, no growth")
	return nil
}

// growth fails when RSS, fds or goroutines at the end are well above where
// they were once the run had settled (after its first fifth): memory held
// per probe or per reload, leaked connections or goroutines.
func growth(samples []sample) error {
	if len(samples) < 10 {
		return nil
	}
	n := len(samples)
	settled, last := samples[n/5:2*n/5], samples[4*n/5:]
	peak := func(s []sample, f func(sample) float64) float64 {
		m := 0.0
		for _, x := range s {
			m = max(m, f(x))
		}
		return m
	}
	var errs []error
	for _, c := range []struct {
		name  string
		f     func(sample) float64
		slack float64
	}{
		{"RSS (MiB)", func(s sample) float64 { return s.rss }, 8},
		{"open fds", func(s sample) float64 { return float64(s.fds) }, 64},
		{"goroutines", func(s sample) float64 { return float64(s.goroutines) }, 128},
	} {
		a, b := peak(settled, c.f), peak(last, c.f)
		if b > 1.25*a+c.slack {
			errs = append(errs, fmt.Errorf("%s grew from %.0f to %.0f", c.name, a, b))
		}
	}
	return errors.Join(errs...)
}

// writeConfig writes the exporter's config for reload n: a valid one names
// n in a comment and a module timeout; an invalid one has a typo'd field.
func writeConfig(path string, n int, valid bool) error {
	cfg := fmt.Sprintf("# reload %d\nmodules:\n  default:\n    timeout: %ds\n  modbus: {source: modbus}\n", n, 10+n%5)
	if !valid {
		cfg = fmt.Sprintf("# reload %d, invalid\nmodules:\n  default:\n    timeuot: 10s\n", n)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(cfg), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func countFaulty(ts []target) int {
	n := 0
	for _, t := range ts {
		if t.faulty {
			n++
		}
	}
	return n
}

func hash(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

// firstWords is a failure without its URL, so that failures group by cause.
func firstWords(s string) string {
	if i := strings.Index(s, `": `); strings.HasPrefix(s, "Get \"") && i > 0 {
		s = s[i+3:]
	}
	if len(s) > 100 {
		s = s[:100]
	}
	return s
}
