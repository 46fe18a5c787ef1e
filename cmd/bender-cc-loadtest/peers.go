package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/bender-cc/bender_cc_exporter/simulator"
)

// peerBench is --peers: this exporter and blackbox_exporter's http prober
// against the same simulated controllers, in one run, the phases
// interleaved, each with a fresh exporter process whose CPU alone is
// measured. Open loop at Prometheus' rhythm (controllers answering after
// --controller-latency) and closed loop at saturation (controllers
// answering at once), then the Modbus probe against its own saturation.
// It reports, and judges nothing: the figures go into docs/performance.md.
type peerBench struct {
	enabled                    bool
	blackbox                   string
	baseline                   string
	openFor, satFor, modbusFor time.Duration
	workers                    int
}

// addPeerFlags registers --peers and its flags.
func addPeerFlags(app *kingpin.Application) *peerBench {
	p := &peerBench{}
	app.Flag("peers", "Peer benchmark (make bench-peers): this exporter and blackbox_exporter (--blackbox) against the same simulated fleet (--controllers, --per-host, --controller-latency), open loop at --rate twice each, interleaved, and at saturation; then the Modbus probe against its own saturation.").BoolVar(&p.enabled)
	app.Flag("blackbox", "Peer benchmark: the blackbox_exporter binary (empty: this exporter only).").StringVar(&p.blackbox)
	app.Flag("peers-baseline", "Peer benchmark: another build of this exporter (before a change), measured in the same rounds, REST and Modbus, so that before and after compare within one run (empty: none).").StringVar(&p.baseline)
	app.Flag("peers-open", "Peer benchmark: length of each open-loop phase.").Default("45s").DurationVar(&p.openFor)
	app.Flag("peers-saturation", "Peer benchmark: length of each saturation phase.").Default("15s").DurationVar(&p.satFor)
	app.Flag("peers-modbus", "Peer benchmark: length of each Modbus open-loop phase (0 skips Modbus).").Default("30s").DurationVar(&p.modbusFor)
	app.Flag("peers-workers", "Peer benchmark: concurrent requests at saturation.").Default("8").IntVar(&p.workers)
	return p
}

// peer is one exporter under test: how to start it, ask it for a probe of
// a target, and tell a successful probe's answer.
type peer struct {
	name  string
	start func() (*exporterProc, func(), error)
	url   func(exporterAddr string, t target) string
	ok    func(body string) bool
}

// peerPhase is one measured phase of one peer.
type peerPhase struct {
	peer, kind string
	st         stats
	cpu        time.Duration // the exporter's CPU per successful probe
}

func (p *peerBench) run(rest *openLoop) error {
	if rest.rate <= 0 {
		return errors.New("the peer benchmark needs --rate")
	}
	modbus := *rest // before startFleet, which fills in rest's fleet
	modbus.modbus = true
	restTargets, _, hosts, err := rest.startFleet()
	if err != nil {
		return err
	}
	peers := []*peer{p.ours("bender_cc_exporter", *rest)}
	if p.baseline != "" {
		peers = append(peers, p.ours(baselineName, *rest))
	}
	if p.blackbox != "" {
		peers = append(peers, blackboxPeer(p.blackbox))
	}
	fmt.Printf("peer benchmark: %d controllers on %d hosts; open loop %.0f probes/s for %s, controllers answering after %s; saturation %d workers for %s, controllers answering at once; %d CPUs\n",
		len(restTargets), hosts, rest.rate, p.openFor, rest.latency, p.workers, p.satFor, numCPU())
	phases, err := p.rounds(peers, rest, restTargets)
	if err != nil {
		return err
	}
	if p.modbusFor > 0 {
		mbTargets, _, _, err := modbus.startFleet()
		if err != nil {
			return err
		}
		mbPeers := []*peer{p.ours("bender_cc_exporter Modbus", modbus)}
		if p.baseline != "" {
			mbPeers = append(mbPeers, p.ours(baselineName+" Modbus", modbus))
		}
		mbOpen := *p
		mbOpen.openFor = p.modbusFor
		mb, err := mbOpen.rounds(mbPeers, &modbus, mbTargets)
		if err != nil {
			return err
		}
		phases = append(phases, mb...)
	}
	return p.report(phases, rest.rate)
}

// ours is this exporter as a peer, started as o configures it; the build
// --peers-baseline names when name is a baseline's.
func (p *peerBench) ours(name string, o openLoop) *peer {
	if strings.HasPrefix(name, baselineName) {
		o.exporter = p.baseline
	}
	return &peer{name: name,
		url: func(a string, t target) string { return "http://" + a + "/probe?target=" + t.url },
		ok:  func(b string) bool { return strings.Contains(b, "\nbender_cc_up 1\n") },
		start: func() (*exporterProc, func(), error) {
			e, _, stop, err := o.startConfigured()
			return e, stop, err
		}}
}

// rounds measures every peer open loop, then every peer at saturation, twice
// over: interleaved, so that the machine's drift falls on all of them alike.
func (p *peerBench) rounds(peers []*peer, o *openLoop, targets []target) ([]peerPhase, error) {
	var phases []peerPhase
	for range 2 {
		for _, kind := range []string{"open", "saturation"} {
			for _, pe := range peers {
				ph, err := p.measure(pe, o, targets, kind)
				if err != nil {
					return nil, err
				}
				phases = append(phases, ph)
			}
		}
	}
	return phases, nil
}

// baselineName is the peer --peers-baseline starts.
const baselineName = "baseline"

// measure runs one phase against a fresh exporter process.
func (p *peerBench) measure(pe *peer, o *openLoop, targets []target, kind string) (peerPhase, error) {
	exp, stop, err := pe.start()
	if err != nil {
		return peerPhase{}, fmt.Errorf("%s: %w", pe.name, err)
	}
	defer stop()
	client := &http.Client{Timeout: o.scrapeTimeout + 5*time.Second, Transport: &http.Transport{
		MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}}
	defer client.CloseIdleConnections()
	header := strconv.FormatFloat(o.scrapeTimeout.Seconds(), 'f', -1, 64)
	get := func(t target, lat *[]time.Duration) bool {
		t0 := time.Now()
		ok := fetchOK(client, pe.url(exp.addr, t), header, pe.ok)
		*lat = append(*lat, time.Since(t0))
		return ok
	}
	// Saturation is what the code costs at best: controllers answer at once.
	if kind == "saturation" {
		o.setLatency(0)
		defer o.setLatency(o.latency)
	}
	// Warm-up: connections, the heap, the first GC cycles.
	var discard []time.Duration
	for i := range min(len(targets), 200) {
		get(targets[i], &discard)
	}
	cpu0, err := exp.cpu()
	if err != nil {
		return peerPhase{}, err
	}
	var st stats
	if kind == "open" {
		st = openPhase(targets, o.rate, p.openFor, get)
	} else {
		var next int
		var mu sync.Mutex
		deadline := time.Now().Add(p.satFor)
		st = workers(p.workers, func(lat *[]time.Duration) (bool, bool) {
			if time.Now().After(deadline) {
				return false, false
			}
			mu.Lock()
			t := targets[next%len(targets)]
			next++
			mu.Unlock()
			return true, get(t, lat)
		})
	}
	cpu1, err := exp.cpu()
	if err != nil {
		return peerPhase{}, err
	}
	ph := peerPhase{peer: pe.name, kind: kind, st: st}
	if st.ok > 0 {
		ph.cpu = time.Duration((cpu1 - cpu0) / float64(st.ok) * 1e9)
	}
	fmt.Printf("  %-27s %-10s %7d probes (%d failed), %8.0f/s, p50 %9s, p99 %9s, exporter CPU %s per probe\n",
		pe.name, kind, st.ok+st.failed, st.failed, st.rate(), st.pct(50), st.pct(99), ph.cpu.Round(time.Microsecond))
	return ph, nil
}

// openPhase sends probes at rate for d, to the targets in turn, each at its
// time whether or not earlier ones have been answered.
func openPhase(targets []target, rate float64, d time.Duration, get func(target, *[]time.Duration) bool) stats {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
		st stats
	)
	start := time.Now()
	total := int(rate * d.Seconds())
	for j := range total {
		if w := time.Until(start.Add(time.Duration(float64(j) / rate * float64(time.Second)))); w > 0 {
			time.Sleep(w)
		}
		wg.Go(func() {
			var lat []time.Duration
			ok := get(targets[j%len(targets)], &lat)
			mu.Lock()
			defer mu.Unlock()
			st.lat = append(st.lat, lat...)
			if ok {
				st.ok++
			} else {
				st.failed++
			}
		})
	}
	wg.Wait()
	st.took = d
	slices.Sort(st.lat)
	return st
}

// fetchOK GETs url with the scrape-timeout header and says whether the
// answer is 200 and ok by the peer's measure.
func fetchOK(client *http.Client, u, timeoutHeader string, ok func(string) bool) bool {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", timeoutHeader)
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return err == nil && resp.StatusCode == http.StatusOK && ok(string(b))
}

// setLatency makes every simulated controller answer after d (0: at once).
func (o *openLoop) setLatency(d time.Duration) {
	var spec *simulator.FaultSpec
	if d > 0 {
		spec = &simulator.FaultSpec{Mode: simulator.FaultLatency, Delay: d}
	}
	for id := 1; id <= o.fleet.Len(); id++ {
		o.fleet.SetFault(id, spec)
	}
}

// blackboxPeer is blackbox_exporter with its http prober GETting the same
// /rest/full_state the exporter reads (it checks the status and parses
// nothing), in a config directory of its own.
func blackboxPeer(bin string) *peer {
	return &peer{
		name: "blackbox_exporter (http)",
		url: func(a string, t target) string {
			return "http://" + a + "/probe?module=http_2xx&target=" + url.QueryEscape(t.url+"/rest/full_state")
		},
		ok: func(b string) bool { return strings.Contains(b, "\nprobe_success 1\n") },
		start: func() (*exporterProc, func(), error) {
			dir, err := os.MkdirTemp("", "bender-cc-peers")
			if err != nil {
				return nil, nil, err
			}
			cfg := filepath.Join(dir, "blackbox.yml")
			err = os.WriteFile(cfg, []byte("modules:\n  http_2xx:\n    prober: http\n    timeout: 10s\n    http:\n      preferred_ip_protocol: ip4\n      ip_protocol_fallback: false\n"), 0o600)
			var e *exporterProc
			if err == nil {
				e, err = startExporter(bin, []string{"--config.file=" + cfg})
			}
			if err != nil {
				_ = os.RemoveAll(dir)
				return nil, nil, err
			}
			return e, func() { e.stop(); _ = os.RemoveAll(dir) }, nil
		},
	}
}
