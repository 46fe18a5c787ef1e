package probe

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bender-cc/bender_cc_exporter/admission"
	blackholepkg "github.com/bender-cc/bender_cc_exporter/internal/blackhole"
	"github.com/bender-cc/bender_cc_exporter/simulator"
)

// withAdmission gives h an admission controller within b, whose CPU is
// never short, and returns the registry of its metrics.
func withAdmission(h *Handler, b admission.Bounds) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	h.Admission = admission.New(b, reg)
	h.Admission.SetCPUBusy(func(time.Time) bool { return false })
	return reg
}

// gauge reads one series of reg: name, and the value of one label if given.
func gauge(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if label == "" || l.GetName() == label && l.GetValue() == value {
					if m.Gauge != nil {
						return m.Gauge.GetValue()
					}
					return m.Counter.GetValue()
				}
			}
			if label == "" && m.Gauge != nil {
				return m.Gauge.GetValue()
			}
		}
	}
	return -1
}

// waitFor polls until f holds (a few seconds at most).
func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !f(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

// trickling serves /hold/… by sending the header and part of the body,
// then nothing until release is closed (the probe is working: it reads);
// anything else gets a full_state document.
func trickling(t *testing.T, release chan struct{}) string {
	return failing(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/hold/") {
			_, _ = io.WriteString(w, "conn_state:no_vehicle_connected\n")
			return
		}
		w.Header().Set("Content-Length", "1000")
		_, _ = io.WriteString(w, "conn_state:")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
}

// TestRefusedFairly: when the exporter is full with probes it may not give
// up (working ones), a probe is refused with 503, counted as overloaded,
// but the same target asking again gets in over the bound: no target is
// refused twice in a row while others are served. At the hard bound a
// request is refused before any work, the allowlist's lookup included.
func TestRefusedFairly(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ctl := trickling(t, release)
	h, _ := newHandler(t, fmt.Sprintf(`
probe: {allowed_targets: [held, b, c]}
targets:
  - {name: held, address: '%s/hold/1'}
  - {name: b, address: '%s/hold/2'}
  - {name: c, address: '%s/c'}
`, ctl, ctl, ctl))
	reg := withAdmission(h, admission.Bounds{Waiting: 8, Working: 1, InFlight: 1, PerTarget: 4, Targets: 100})
	go probe(t, h, "target=held", nil)
	waitFor(t, "the first probe working", func() bool { return gauge(t, reg, "bender_cc_exporter_probes_in_phase", "phase", "working") == 1 })
	if code, out := probe(t, h, "target=c", nil); code != http.StatusServiceUnavailable || !strings.Contains(out, "--probe.max-working") {
		t.Fatalf("c beside a working probe at the working bound: %d %q, want 503", code, out)
	}
	if code, out := probe(t, h, "target=c", nil); code != http.StatusOK || !strings.Contains(out, "\nbender_cc_up 1\n") {
		t.Fatalf("c again, refused the last time: %d %q, want it served", code, out)
	}
	if n := testutil.ToFloat64(h.Metrics.refused.WithLabelValues(RefusedOverloaded)); n != 1 {
		t.Errorf("refused{reason=overloaded} = %g, want 1", n)
	}
	// b: refused, then in over the bound (working: it trickles too); then
	// the exporter is at its hard bound (1 + 1 in flight).
	if code, _ := probe(t, h, "target=b", nil); code != http.StatusServiceUnavailable {
		t.Fatalf("b: %d, want 503", code)
	}
	go probe(t, h, "target=b", nil)
	waitFor(t, "b working over the bound", func() bool { return gauge(t, reg, "bender_cc_exporter_probes_in_phase", "phase", "working") == 2 })
	waitFor(t, "two in flight", func() bool { return h.Admission.Saturated() })
	// Without the hard bound first, this request is looked up and refused with 403.
	if code, out := probe(t, h, "target=localhost:9", nil); code != http.StatusServiceUnavailable {
		t.Errorf("at the hard bound: %d %q, want 503 before the lookup", code, out)
	}
}

// TestDarkTargetAnsweredFast: a controller whose last two probes timed
// out is tried for as long as it usually needs (at least 1 s) instead of
// the whole timeout, says so in bender_cc_failure_info, and while that
// trial is in flight another scrape of it is answered at once; when it
// answers again it reads up at the next scrape.
func TestDarkTargetAnsweredFast(t *testing.T) {
	var dark atomic.Bool
	dark.Store(true)
	ctl := failing(t, func(w http.ResponseWriter, r *http.Request) {
		if dark.Load() {
			<-r.Context().Done()
			return
		}
		_, _ = io.WriteString(w, "conn_state:no_vehicle_connected\n")
	})
	h, logs := newHandler(t, "")
	reg := withAdmission(h, admission.BoundsFor(0))
	hdr := http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"3"}} // 2.5 s after the offset
	for i := range 2 {
		if _, out := probe(t, h, "target="+ctl, hdr); !strings.Contains(out, `bender_cc_failure_info{admission="probed",result="timeout"} 1`) {
			t.Fatalf("probe %d of a dark controller:\n%s", i+1, out)
		}
	}
	if n := gauge(t, reg, "bender_cc_exporter_circuits_open", "", ""); n != 1 {
		t.Errorf("circuits open: %g, want 1", n)
	}
	trial := make(chan string)
	go func() { _, out := probe(t, h, "target="+ctl, hdr); trial <- out }()
	waitFor(t, "the trial in flight", func() bool { return gauge(t, reg, "bender_cc_exporter_probes_in_phase", "phase", "waiting") == 1 })
	if _, out := probe(t, h, "target="+ctl, hdr); !strings.Contains(out, `bender_cc_failure_info{admission="circuit_open",result="timeout"} 1`) {
		t.Errorf("beside the trial:\n%s", out)
	}
	if out := <-trial; !strings.Contains(out, `bender_cc_failure_info{admission="trial",result="timeout"} 1`) || !strings.Contains(out, "bender_cc_scrape_duration_seconds 1.") {
		t.Errorf("the trial, 1 s:\n%s", out)
	}
	if !strings.Contains(logs.String(), "admission=trial") {
		t.Errorf("no log line says the probe was a trial:\n%s", logs)
	}
	dark.Store(false)
	for i := range 2 {
		if _, out := probe(t, h, "target="+ctl, hdr); !strings.Contains(out, "\nbender_cc_up 1\n") {
			t.Fatalf("scrape %d after it came back:\n%s", i+1, out)
		}
	}
	if n := gauge(t, reg, "bender_cc_exporter_circuits_open", "", ""); n != 0 {
		t.Errorf("circuits open after it came back: %g, want 0", n)
	}
	for reason, want := range map[string]float64{admission.ReasonTrial: 1, admission.ReasonCircuitOpen: 1} {
		if n := gauge(t, reg, "bender_cc_exporter_probes_answered_early_total", "reason", reason); n != want {
			t.Errorf("answered early, %s: %g, want %g", reason, n, want)
		}
	}
}

// blackhole is an address whose connects never complete (no SYN-ACK), as
// behind a dead router or a firewall.
func blackhole(t *testing.T) string {
	h, err := blackholepkg.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	if c, err := net.DialTimeout("tcp", h.Addr(), 300*time.Millisecond); err == nil {
		_ = c.Close()
		t.Skip("the kernel completes connects beyond a full accept queue here: no blackhole")
	}
	return "http://" + h.Addr()
}

// TestDarkSiteCostsOnlyItself: hundreds of controllers that accept and
// never answer and a blackholed address (connects that never complete),
// scraped as Prometheus spreads its scrapes, together far more than the
// bound on waiting probes; healthy controllers scraped among them are all
// read (bender_cc_up 1), and every dark one is answered 200 with
// bender_cc_up 0: none is refused. Before admission preempted probes
// waiting past their controller's patience, the dark ones held every slot
// and most healthy scrapes got 503.
func TestDarkSiteCostsOnlyItself(t *testing.T) {
	const hanging, holes, healthy = 300, 30, 220 // three dark in five
	fleet, err := simulator.NewFleet(simulator.Options{Controllers: hanging + healthy, Seed: 1, Firmware: "mixed"})
	if err != nil {
		t.Fatal(err)
	}
	for id := 1; id <= hanging; id++ {
		fleet.SetFault(id, &simulator.FaultSpec{Mode: simulator.FaultHang})
	}
	site := failing(t, fleet.ServeHTTP)
	hole := blackhole(t)
	h, _ := newHandler(t, "")
	reg := withAdmission(h, admission.Bounds{Waiting: 160, Working: 16, InFlight: 176, PerTarget: 4, Targets: 10_000})
	hdr := http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"5"}} // 4.5 s after the offset

	type scrape struct {
		target string
		dark   bool
	}
	var plan []scrape
	for i := range hanging + holes + healthy {
		switch {
		case i%5 < 3 && i/5*3+i%5 < hanging+holes:
			n := i/5*3 + i%5
			if n < hanging {
				plan = append(plan, scrape{fmt.Sprintf("%s/cc/%d", site, n+1), true})
			} else {
				plan = append(plan, scrape{fmt.Sprintf("%s/cc/%d", hole, n), true})
			}
		default:
			plan = append(plan, scrape{fmt.Sprintf("%s/cc/%d", site, hanging+1+len(plan)%healthy), false})
		}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		bad  []string
		dark int
	)
	for i, s := range plan {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, out := probe(t, h, "target="+s.target, hdr)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case code != http.StatusOK:
				bad = append(bad, fmt.Sprintf("%s (dark %v): %d %s", s.target, s.dark, code, strings.TrimSpace(out)))
			case s.dark && !strings.Contains(out, "\nbender_cc_up 0\n"), !s.dark && !strings.Contains(out, "\nbender_cc_up 1\n"):
				bad = append(bad, fmt.Sprintf("%s (dark %v): wrong bender_cc_up:\n%s", s.target, s.dark, out))
			case s.dark:
				dark++
			}
		}()
		if i%10 == 9 {
			time.Sleep(50 * time.Millisecond) // 200 scrapes a second, spread
		}
	}
	wg.Wait()
	for _, b := range bad[:min(5, len(bad))] {
		t.Error(b)
	}
	if len(bad) > 0 {
		t.Fatalf("%d of %d scrapes wrong or refused", len(bad), len(plan))
	}
	if n := gauge(t, reg, "bender_cc_exporter_probes_answered_early_total", "reason", admission.ReasonPreempted); n < 1 {
		t.Errorf("preempted %g: the dark ones never filled the bound, the test tests nothing", n)
	}
	t.Logf("%d dark and %d healthy scrapes right; %g preempted", dark, len(plan)-dark, gauge(t, reg, "bender_cc_exporter_probes_answered_early_total", "reason", admission.ReasonPreempted))
}
