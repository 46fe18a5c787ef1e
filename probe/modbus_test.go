package probe

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bender-cc/bender_cc_exporter/collector"
	"github.com/bender-cc/bender_cc_exporter/internal/modbustest"
	"github.com/bender-cc/bender_cc_exporter/modbus"
	"github.com/bender-cc/bender_cc_exporter/simulator"
)

// modbusSite is a simulated DLM site at a fixed instant: REST on one HTTP
// server (/cc/<i>), Modbus on one port per controller. Controller 1 is the
// master of 1-4, controller 3 runs firmware 5.12.
type modbusSite struct {
	fleet *simulator.Fleet
	rest  string   // http://127.0.0.1:port
	addrs []string // addrs[i]: controller i's Modbus host:port
	srvs  []*simulator.ModbusServer
}

var siteNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func newModbusSite(t testing.TB, now time.Time) *modbusSite {
	t.Helper()
	f, addrs, srvs := modbustest.Site(t, simulator.Options{Controllers: 4, Seed: 3, Firmware: "5.33", FirmwareOf: map[int]string{3: "5.12"},
		DLMSiteSize: 4, Start: siteNow.Add(-2 * time.Hour), Now: func() time.Time { return now }})
	rest := httptest.NewServer(f)
	t.Cleanup(rest.Close)
	return &modbusSite{fleet: f, rest: rest.URL, addrs: addrs, srvs: srvs}
}

func port(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }

// samples reads an exposition into series → value.
func samples(out string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		m[line[:i]] = line[i+1:]
	}
	return m
}

func TestModbusProbe(t *testing.T) {
	site := newModbusSite(t, siteNow)
	h, logs := newHandler(t, fmt.Sprintf(`
modules:
  mb: {source: modbus}
  both: {source: [rest, modbus], modbus: {port: %s}}
targets:
  - {name: master, address: 'modbus://%s', module: mb, labels: {site: depot, chargepoint: "1"}}
`, port(site.addrs[1]), site.addrs[1]))
	code, out := probe(t, h, "target=master", nil)
	if code != 200 {
		t.Fatalf("%d %s", code, out)
	}
	golden := filepath.Join("..", "testdata", "modbus", "dlm_master.prom")
	got := durationLine.ReplaceAllString(out, "bender_cc_scrape_duration_seconds{chargepoint=\"1\",site=\"depot\"} 0")
	got = strings.ReplaceAll(got, `bender_cc_scrape_duration_seconds 0`, "")
	got = scrubDuration(got)
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(string(want), got); d != "" {
		t.Errorf("output differs from %s (go test ./probe -run TestModbusProbe -update):\n%s", golden, d)
	}
	checkMetrics(t, out)
	for _, want := range []string{`bender_cc_up{chargepoint="1",site="depot"} 1`, `bender_cc_source_up{chargepoint="1",site="depot",source="modbus"} 1`,
		`bender_cc_modbus_info{chargepoint="1",protocol_version="0.9c",register_set="5.22",site="depot"} 1`,
		`bender_cc_dlm_mode_state{chargepoint="1",site="depot",state="master_standalone"} 1`} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("output lacks %s", want)
		}
	}
	if strings.Contains(logs.String(), "level=warn") {
		t.Errorf("warnings: %s", logs)
	}
	// Only function code 03 reached the controller, over one connection per probe.
	for _, fc := range site.srvs[1].FunctionCodes() {
		if fc != 3 {
			t.Errorf("function code %d sent", fc)
		}
	}
	if err := testutil.CollectAndCompare(h.Config, strings.NewReader(`
# HELP bender_cc_exporter_controller_connections Connections open to controllers, per module (at --client.max-connections, they are closed after use).
# TYPE bender_cc_exporter_controller_connections gauge
bender_cc_exporter_controller_connections{module="both"} 0
bender_cc_exporter_controller_connections{module="default"} 0
bender_cc_exporter_controller_connections{module="mb"} 0
`)); err != nil {
		t.Errorf("connections left open after the probe: %v", err)
	}
}

// scrubDuration zeroes the scrape duration, the one value that changes.
func scrubDuration(out string) string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "bender_cc_scrape_duration_seconds") {
			lines[i] = l[:strings.LastIndexByte(l, ' ')] + " 0"
		}
	}
	return strings.Join(lines, "\n")
}

// shared are the series both sources carry (the metric contract's names).
var shared = []string{"bender_cc_ocpp_state", "bender_cc_type2_state", "bender_cc_energy_joules_total", "bender_cc_power_watts",
	"bender_cc_current_amperes", "bender_cc_voltage_volts", "bender_cc_signaled_current_amperes",
	"bender_cc_transaction_energy_joules", "bender_cc_charging_duration_seconds", "bender_cc_error"}

// TestRESTAndModbusAgree: one simulated controller at one instant, probed
// through REST and through Modbus, gives the same value for every series
// both carry, on both register sets and at many instants of its life.
func TestRESTAndModbusAgree(t *testing.T) {
	compared := 0
	for minute := range 40 {
		now := siteNow.Add(time.Duration(minute) * 97 * time.Second)
		site := newModbusSite(t, now)
		h, _ := newHandler(t, "modules:\n  mb: {source: modbus}\n")
		for id := 1; id <= 4; id++ {
			_, restOut := probe(t, h, fmt.Sprintf("target=%s/cc/%d", site.rest, id), nil)
			_, mbOut := probe(t, h, "module=mb&target="+site.addrs[id], nil)
			rest, mb := samples(restOut), samples(mbOut)
			for series, rv := range rest {
				name, _, _ := strings.Cut(series, "{")
				if !contains(shared, name) || strings.Contains(series, `error="temperature_too_high"`) {
					continue
				}
				if series == "bender_cc_voltage_volts" || strings.HasPrefix(series, "bender_cc_voltage_volts") && site.fleet.Controller(id).ModbusSet() == "5.12" {
					continue // 5.12 has no voltage registers
				}
				compared++
				if mv, ok := mb[series]; !ok || mv != rv {
					t.Errorf("%s controller %d: %s REST %s, Modbus %q", now.Format(time.TimeOnly), id, series, rv, mv)
				}
			}
			for series := range mb {
				name, _, _ := strings.Cut(series, "{")
				if contains(shared, name) && rest[series] == "" && !strings.Contains(series, "backend_disconnected") && !strings.HasPrefix(series, "bender_cc_voltage_volts") {
					t.Errorf("controller %d: %s only from Modbus", id, series)
				}
			}
		}
	}
	if compared < 1000 {
		t.Errorf("only %d values compared", compared)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestRESTAndModbusTogether: source [rest, modbus] gives one set of series;
// one source failing keeps the other's, and says which failed.
func TestRESTAndModbusTogether(t *testing.T) {
	site := newModbusSite(t, siteNow)
	h, logs := newHandler(t, fmt.Sprintf("modules:\n  both: {source: [rest, modbus], modbus: {port: %s}}\n", port(site.addrs[2])))
	target := "module=both&target=" + site.rest + "/cc/2"
	_, out := probe(t, h, target, nil)
	s := samples(out)
	for _, series := range []string{`bender_cc_source_up{source="rest"}`, `bender_cc_source_up{source="modbus"}`, "bender_cc_up", "bender_cc_ambient_temperature_celsius", "bender_cc_hems_current_limit_amperes"} {
		if s[series] == "" {
			t.Errorf("no %s in\n%s", series, out)
		}
	}
	if s["bender_cc_up"] != "1" || s[`bender_cc_source_up{source="modbus"}`] != "1" {
		t.Errorf("not up: %s", out)
	}
	checkMetrics(t, out)
	site.fleet.SetFault(2, &simulator.FaultSpec{Mode: simulator.ModbusException})
	_, out = probe(t, h, target, nil)
	s = samples(out)
	if s["bender_cc_up"] != "1" || s[`bender_cc_source_up{source="modbus"}`] != "0" || s["bender_cc_ambient_temperature_celsius"] == "" || s["bender_cc_hems_current_limit_amperes"] != "" {
		t.Errorf("with Modbus failing: %s", out)
	}
	if !strings.Contains(logs.String(), `level=warn source=modbus msg="Probe failed"`) || !strings.Contains(logs.String(), "result=modbus_exception") {
		t.Errorf("log: %s", logs)
	}
	// A Modbus server that hangs: the REST series still arrive within the
	// scrape timeout.
	site.fleet.SetFault(2, &simulator.FaultSpec{Mode: simulator.ModbusHang})
	_, out = probe(t, h, target, scrapeTimeout)
	s = samples(out)
	if s["bender_cc_up"] != "1" || s[`bender_cc_source_up{source="modbus"}`] != "0" || s[`bender_cc_source_up{source="rest"}`] != "1" || s["bender_cc_ambient_temperature_celsius"] == "" {
		t.Errorf("with Modbus hanging: %s", out)
	}
	if !strings.Contains(logs.String(), `msg="Probe failed, for another cause"`) || !strings.Contains(logs.String(), "result=timeout") || !strings.Contains(logs.String(), "no Modbus reply") {
		t.Errorf("log: %s", logs)
	}
}

// TestModbusFailureMatrix: each failure is bender_cc_up 0, one warning naming
// the target and the cause, and one probe counted under its own result.
func TestModbusFailureMatrix(t *testing.T) {
	site := newModbusSite(t, siteNow)
	site.fleet.SetFault(4, &simulator.FaultSpec{Mode: simulator.ModbusException})
	site.fleet.SetFault(3, &simulator.FaultSpec{Mode: simulator.ModbusCut})
	site.fleet.SetFault(2, &simulator.FaultSpec{Mode: simulator.ModbusHang})
	h, logs := newHandler(t, "modules:\n  mb: {source: modbus, timeout: 2s}\n")
	for _, f := range []failure{
		{name: "refused", reason: "connection refused", result: ResultConnectionFailed, target: strings.TrimPrefix(refusedAddr(t), "http://")},
		{name: "hang", reason: "no Modbus reply", result: ResultTimeout, slow: true, target: modbustest.Serve(t, modbustest.Silent)},
		{name: "exception", reason: "Register Address Set is the Bender one", result: ResultModbusException, target: site.addrs[4]},
		{name: "simulator: reply cut off", reason: "cut off after 5 bytes", result: ResultModbusBadFrame, target: site.addrs[3]},
		{name: "simulator: hang", reason: "no Modbus reply", result: ResultTimeout, slow: true, target: site.addrs[2]},
		{name: "HTTP server", reason: "an HTTP server", result: ResultNotModbus, target: modbustest.Serve(t, modbustest.HTTP)},
		{name: "garbage", reason: "protocol identifier is not 0", result: ResultNotModbus, target: modbustest.Serve(t, modbustest.Garbage)},
		{name: "wrong transaction id", reason: "unexpected transaction id", result: ResultModbusWrongID, target: modbustest.Serve(t, modbustest.WrongTransaction)},
		{name: "wrong unit id", reason: "another unit id", result: ResultModbusWrongID, target: modbustest.Serve(t, modbustest.WrongUnit)},
		{name: "cut off", reason: "cut off after 9 bytes", result: ResultModbusBadFrame, target: modbustest.Serve(t, modbustest.CutOff)},
		{name: "oversized", reason: "length Modbus TCP does not allow", result: ResultModbusBadFrame, target: modbustest.Serve(t, modbustest.Oversized)},
	} {
		t.Run(f.name, func(t *testing.T) {
			before := strings.Count(logs.String(), "\n")
			counted := testutil.ToFloat64(h.Metrics.probes.WithLabelValues("mb", f.result))
			code, out := probe(t, h, "module=mb&target="+f.target, scrapeTimeout)
			if got := testutil.ToFloat64(h.Metrics.probes.WithLabelValues("mb", f.result)); got != counted+1 {
				t.Errorf("probes_total{result=%q} went from %g to %g", f.result, counted, got)
			}
			if code != http.StatusOK || !strings.Contains(out, "bender_cc_up 0\n") || !strings.Contains(out, `bender_cc_source_up{source="modbus"} 0`) ||
				!strings.Contains(out, `bender_cc_failure_info{admission="probed",result="`+f.result+`"} 1`) || strings.Count(out, "\nbender_cc_") != 4 {
				t.Errorf("want up 0, the duration, source_up 0 and failure_info, got %d:\n%s", code, out)
			}
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")[before:]
			if len(lines) != 1 || !strings.Contains(lines[0], "level=warn") || !strings.Contains(lines[0], "target="+f.target) || !strings.Contains(lines[0], f.reason) {
				t.Errorf("want one warning naming the target and %q, got %q", f.reason, lines)
			}
			t.Log(lines[0])
		})
	}
	// The exporter keeps serving everyone else.
	if _, out := probe(t, h, "module=mb&target="+site.addrs[1], nil); !strings.Contains(out, "bender_cc_up 1\n") {
		t.Errorf("a good controller after the failures: %s", out)
	}
}

// TestModbusAllowedTargets: the policy holds for Modbus at request time
// and the probe dials only what it allowed.
func TestModbusAllowedTargets(t *testing.T) {
	site := newModbusSite(t, siteNow)
	h, _ := newHandler(t, fmt.Sprintf(`
modules:
  mb: {source: modbus}
probe:
  allowed_targets: [127.0.0.1/32]
targets:
  - {name: named, address: '%s', module: mb}
`, site.addrs[2]))
	if code, out := probe(t, h, "module=mb&target="+site.addrs[1], nil); code != 200 || !strings.Contains(out, "bender_cc_up 1") {
		t.Errorf("allowed: %d %s", code, out)
	}
	_, p, _ := net.SplitHostPort(site.addrs[1])
	if code, out := probe(t, h, "module=mb&target=modbus://127.0.0.2:"+p, nil); code != 403 || !strings.Contains(out, "127.0.0.2 is not in probe.allowed_targets") {
		t.Errorf("refused: %d %s", code, out)
	}
	if code, out := probe(t, h, "target=named", nil); code != 200 || !strings.Contains(out, "bender_cc_up 1") {
		t.Errorf("named: %d %s", code, out)
	}
	// At dial time: the module's dialer refuses what the policy does not allow.
	dial := h.Config.Get().ModbusDialer("mb")
	if _, err := modbus.Read(t.Context(), modbus.Dialer(dial), "127.0.0.2:"+p, 255); err == nil || !strings.Contains(err.Error(), "not in probe.allowed_targets") {
		t.Errorf("dial-time check: %v", err)
	}
}

func TestModbusCollectorLint(t *testing.T) {
	site := newModbusSite(t, siteNow)
	for id := 1; id <= 4; id++ {
		res := modbus.Probe(t.Context(), (&net.Dialer{}).DialContext, site.addrs[id], 255)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if problems, err := testutil.CollectAndLint(collector.New(res)); err != nil || len(problems) > 0 {
			t.Errorf("controller %d: %v %v", id, err, problems)
		}
	}
}

// BenchmarkModbusProbe is the whole /probe handler against a loopback
// simulated controller over Modbus TCP (the version, then 7 reads in one
// burst), exposition included: compare with BenchmarkProbe.
func BenchmarkModbusProbe(b *testing.B) {
	_, addrs, _ := modbustest.SiteDirect(b, simulator.Options{Controllers: 4, Seed: 3, Firmware: "5.33", DLMSiteSize: 4,
		Start: siteNow.Add(-2 * time.Hour), Now: func() time.Time { return siteNow }})
	site := &modbusSite{addrs: addrs}
	h, _ := newHandler(b, "modules:\n  mb: {source: modbus}\n")
	for _, id := range []int{2, 1} {
		b.Run(map[int]string{1: "dlm_master", 2: "plain"}[id], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if code, out := probe(b, h, "module=mb&target="+site.addrs[id], nil); code != http.StatusOK || !strings.Contains(out, "bender_cc_up 1") {
					b.Fatal(code, out)
				}
			}
		})
	}
}

// TestModbusNoValueTransient: 0xFFFFFFFF in the total registers for one
// probe, amid normal readings (firmware 5.33.9), exports no sample for
// them, never 4.29 GW; the next probe has them again.
func TestModbusNoValueTransient(t *testing.T) {
	site := newModbusSite(t, siteNow)
	h, _ := newHandler(t, "modules:\n  mb: {source: modbus}\n")
	target := "module=mb&target=" + site.addrs[2]
	_, before := probe(t, h, target, nil)
	site.fleet.SetFault(2, &simulator.FaultSpec{Mode: simulator.ModbusNoValue})
	_, during := probe(t, h, target, nil)
	site.fleet.SetFault(2, nil)
	_, after := probe(t, h, target, nil)
	for _, series := range []string{"bender_cc_power_watts", "bender_cc_energy_joules_total"} {
		b, d, a := samples(before)[series], samples(during)[series], samples(after)[series]
		if b == "" || d != "" || a != b {
			t.Errorf("%s: before %q, during %q (want none), after %q", series, b, d, a)
		}
	}
	if s := samples(during); s["bender_cc_up"] != "1" || s[`bender_cc_current_amperes{phase="L1"}`] == "" || strings.Contains(during, "4.29") {
		t.Errorf("during the transient:\n%s", during)
	}
}

// TestModbusSharedProbes: concurrent probes of one controller with one
// Modbus module share one connection and one set of reads.
func TestModbusSharedProbes(t *testing.T) {
	var conns atomic.Int64
	slow := modbustest.Serve(t, func(c net.Conn) {
		conns.Add(1)
		time.Sleep(300 * time.Millisecond) // a slow controller: the probes overlap
		modbustest.ReplyTo(modbustest.Frame)(c)
	})
	h, _ := newHandler(t, "modules:\n  mb: {source: modbus}\n")
	var wg sync.WaitGroup
	outs := make([]string, 10)
	start := make(chan struct{})
	for i := range outs {
		wg.Go(func() { <-start; _, outs[i] = probe(t, h, "module=mb&target="+slow, nil) })
	}
	close(start)
	wg.Wait()
	if n := conns.Load(); n != 1 {
		t.Errorf("controller saw %d connections, want 1", n)
	}
	for i, out := range outs {
		if !strings.Contains(out, "bender_cc_up 1\n") {
			t.Errorf("probe %d:\n%s", i, out)
		}
	}
}

func TestModbusDebugView(t *testing.T) {
	site := newModbusSite(t, siteNow)
	h, _ := newHandler(t, "modules:\n  mb: {source: modbus}\n")
	_, out := probe(t, h, "module=mb&debug=true&target="+site.addrs[1], nil)
	for _, want := range []string{"function code 03", "register set 5.22: 100-101, 104-112", "on a DLM master 610-615, 620-621, 630-635",
		"then in one burst 104-132, 134-227, 600, 700-719, 1000, 610-635, 730-740", " 0  modbus_requests                8",
		" 218  meter_wh", "→ bender_cc_energy_joules_total", "Metrics:", "bender_cc_dlm_slaves_connected"} {
		if !strings.Contains(out, want) {
			t.Errorf("debug view lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "rest/full_state") {
		t.Errorf("the Modbus debug view speaks of full_state:\n%s", out)
	}
}

// TestModbusNoLeaks: 600 Modbus probes, good and failing, leave no
// goroutines, file descriptors or open connections behind.
func TestModbusNoLeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	site := newModbusSite(t, siteNow)
	site.fleet.SetFault(4, &simulator.FaultSpec{Mode: simulator.ModbusException})
	site.fleet.SetFault(3, &simulator.FaultSpec{Mode: simulator.ModbusCut})
	targets := []string{site.addrs[1], site.addrs[2], site.addrs[3], site.addrs[4], strings.TrimPrefix(refusedAddr(t), "http://"),
		modbustest.Serve(t, modbustest.Garbage), modbustest.Serve(t, modbustest.WrongTransaction), modbustest.Serve(t, modbustest.HTTP)}
	h, _ := newHandler(t, "modules:\n  mb: {source: modbus}\n")
	settle := func() {
		for range 30 {
			runtime.GC()
			time.Sleep(20 * time.Millisecond)
		}
	}
	for _, tg := range targets {
		probe(t, h, "module=mb&target="+tg, nil)
	}
	settle()
	g0, fd0 := runtime.NumGoroutine(), openFDs(t)
	for i := range 600 {
		probe(t, h, "module=mb&target="+targets[i%len(targets)], nil)
	}
	settle()
	g1, fd1 := runtime.NumGoroutine(), openFDs(t)
	t.Logf("after 600 Modbus probes: goroutines %d → %d, open fds %d → %d", g0, g1, fd0, fd1)
	if g1 > g0+5 || fd1 > fd0+5 {
		t.Errorf("goroutines %d → %d, fds %d → %d", g0, g1, fd0, fd1)
	}
}

// TestModbusServiceDiscovery: /sd serves Modbus targets with their module,
// and a probe of what it serves, relabeled as the README says, works.
func TestModbusServiceDiscovery(t *testing.T) {
	site := newModbusSite(t, siteNow)
	h, _ := newHandler(t, fmt.Sprintf(`
modules: {mb: {source: modbus}}
targets:
  - {name: left, address: 'modbus://%s', module: mb, labels: {site: depot}}
`, site.addrs[1]))
	w := httptest.NewRecorder()
	SDHandler(h.Config).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/sd", nil))
	want := `[{"targets":["modbus://` + site.addrs[1] + `"],"labels":{"__param_module":"mb","site":"depot"}}]` + "\n"
	if w.Body.String() != want {
		t.Errorf("/sd:\n got %s\nwant %s", w.Body.String(), want)
	}
	if _, out := probe(t, h, "module=mb&target=modbus://"+site.addrs[1], nil); !strings.Contains(out, "bender_cc_up 1\n") {
		t.Errorf("probe of the discovered target:\n%s", out)
	}
}

// TestModbusShortCallerDoesNotCutLongOne: as for REST, a caller with a
// short scrape timeout that starts a Modbus read first does not make a
// normal probe of the same controller fail with it.
func TestModbusShortCallerDoesNotCutLongOne(t *testing.T) {
	slow := modbustest.Serve(t, func(c net.Conn) {
		time.Sleep(time.Second) // slower than the short caller's timeout
		modbustest.ReplyTo(modbustest.Frame)(c)
	})
	h, _ := newHandler(t, "modules:\n  mb: {source: modbus}\n")
	short := make(chan string)
	go func() {
		_, out := probe(t, h, "module=mb&target="+slow, http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"1.1"}}) // 0.6 s
		short <- out
	}()
	time.Sleep(100 * time.Millisecond) // the short one starts the read
	_, long := probe(t, h, "module=mb&target="+slow, nil)
	if !strings.Contains(long, "bender_cc_up 1\n") {
		t.Errorf("the normal probe failed with the short one:\n%s", long)
	}
	if out := <-short; !strings.Contains(out, "bender_cc_up 0\n") {
		t.Errorf("the short probe did not time out:\n%s", out)
	}
}
