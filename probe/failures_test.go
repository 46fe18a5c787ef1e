package probe

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bender-cc/bender_cc_exporter/internal/loopback"
	"github.com/bender-cc/bender_cc_exporter/simulator"
)

// failing is a controller that misbehaves in one way.
func failing(t testing.TB, fn http.HandlerFunc) string {
	srv := httptest.NewServer(fn)
	t.Cleanup(srv.Close)
	return srv.URL
}

// silent accepts connections and never answers.
func silent(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return "http://" + l.Addr().String()
}

// refusedAddr is an address nothing listens on: below the ephemeral port
// range, so that no test server listening on ":0" gets it meanwhile.
func refusedAddr(t testing.TB) string {
	addr, err := loopback.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
}

type failure struct {
	name, target, reason string
	result               string // the result label it is counted under
	slow                 bool   // needs the scrape timeout to end
}

// failures is the matrix of ways a controller or the way to it can fail.
func failures(t testing.TB) []failure {
	doc := []byte("conn_state:no_vehicle_connected\npower_w:0\nmeter_wh:16701\n")
	chunk := bytes.Repeat([]byte("power_w:1\n"), 6554) // 64 KiB
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(doc) }))
	t.Cleanup(tlsSrv.Close)
	return []failure{
		{name: "refused connection", reason: "connection refused", result: ResultConnectionFailed, target: refusedAddr(t)},
		{name: "unresolvable host", reason: "cannot resolve host", result: ResultDNS, target: "http://cc-7.nonexistent.invalid"},
		{name: "accept then silence", reason: "timeout", result: ResultTimeout, slow: true, target: silent(t)},
		{name: "dripping body", reason: "timeout", result: ResultTimeout, slow: true, target: failing(t, func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < 100; i++ {
				if _, err := w.Write([]byte("c")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(200 * time.Millisecond):
				}
			}
		})},
		{name: "401", reason: "HTTP 401 Unauthorized (wrong or missing credentials", result: ResultUnauthorized, target: failing(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(401) })},
		{name: "403", reason: "HTTP 403 Forbidden (wrong or missing credentials", result: ResultUnauthorized, target: failing(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(403) })},
		{name: "404 REST interface disabled", reason: "REST interface disabled", result: ResultRESTDisabled, target: failing(t, http.NotFound)},
		{name: "500", reason: "HTTP 500", result: ResultHTTPStatus, target: failing(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) })},
		{name: "200 HTML login page", reason: "HTML", result: ResultNotFullState, target: failing(t, func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "<!DOCTYPE html><html><body><form>Password: <input></form></body></html>")
		})},
		{name: "200 JSON", reason: "JSON", result: ResultNotFullState, target: failing(t, func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `{"conn_state":"no_vehicle_connected","power_w":0}`)
		})},
		{name: "binary garbage", reason: "binary", result: ResultNotFullState, target: failing(t, func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte{0x1f, 0x8b, 0x08, 0x00, 0xff, 0x00, 0x13, 0x37})
		})},
		{name: "body truncated mid-line", reason: "unexpected EOF", result: ResultTruncated, target: failing(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(len(doc)))
			_, _ = w.Write(doc[:len(doc)/2])
		})},
		{name: "100 MB body", reason: "body larger than 1048576 bytes", result: ResultTooLarge, target: failing(t, func(w http.ResponseWriter, _ *http.Request) {
			for written := 0; written < 100<<20; written += len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		})},
		{name: "redirect loop", reason: "stopped after 10 redirects", result: ResultRedirectRefused, target: failing(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
		})},
		{name: "self-signed TLS", reason: "certificate", result: ResultTLS, target: tlsSrv.URL},
	}
}

var scrapeTimeout = http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"1.5"}}

// TestFailureMatrix: every failure is HTTP 200 with only bender_cc_up 0,
// the duration and why (bender_cc_failure_info, its result), one warning naming the target and the cause, and one probe
// counted under its result.
func TestFailureMatrix(t *testing.T) {
	h, logs := newHandler(t, "")
	for _, f := range failures(t) {
		t.Run(f.name, func(t *testing.T) {
			before := strings.Count(logs.String(), "\n")
			counted := testutil.ToFloat64(h.Metrics.probes.WithLabelValues("default", f.result))
			code, out := probe(t, h, "target="+f.target, scrapeTimeout)
			if got := testutil.ToFloat64(h.Metrics.probes.WithLabelValues("default", f.result)); got != counted+1 {
				t.Errorf("probes_total{result=%q} went from %g to %g, want one more", f.result, counted, got)
			}
			if code != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", code, out)
			}
			why := `bender_cc_failure_info{admission="probed",result="` + f.result + `"} 1`
			if !strings.Contains(out, "bender_cc_up 0\n") || !strings.Contains(out, why) || strings.Count(out, "\nbender_cc_") != 3 {
				t.Errorf("want only up 0, the duration and %s, got:\n%s", why, out)
			}
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")[before:]
			if len(lines) != 1 {
				t.Fatalf("want one log line, got %d: %q", len(lines), lines)
			}
			if !strings.Contains(lines[0], "level=warn") || !strings.Contains(lines[0], "target="+f.target) || !strings.Contains(lines[0], f.reason) {
				t.Errorf("log line %q should be a warning naming the target and %q", lines[0], f.reason)
			}
		})
	}
}

// TestShortDocumentIsPartial: a complete answer that holds fewer keys (cut
// at a line end, or older firmware) is a document; what it lacks is absent.
func TestShortDocumentIsPartial(t *testing.T) {
	h, _ := newHandler(t, "")
	target := failing(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "conn_state:no_vehicle_connected\npower_w:0\n")
	})
	_, out := probe(t, h, "target="+target, nil)
	if !strings.Contains(out, "bender_cc_up 1\n") || !strings.Contains(out, "bender_cc_power_watts 0\n") || strings.Contains(out, "energy_joules") {
		t.Errorf("partial document:\n%s", out)
	}
}

func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd on this system")
	}
	return len(entries)
}

// TestNoLeaksAfterFailingProbes: 1,000 failing probes leave no goroutines,
// file descriptors or heap behind.
func TestNoLeaksAfterFailingProbes(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	h, _ := newHandler(t, "")
	var fast []failure
	for _, f := range failures(t) {
		if !f.slow {
			fast = append(fast, f)
		}
	}
	settle := func() {
		h.Config.Get().Client("default").CloseIdleConnections()
		for range 50 { // let closed connections' goroutines end
			runtime.GC()
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Warm up: first use starts long-lived goroutines (resolver, test servers).
	for _, f := range fast {
		probe(t, h, "target="+f.target, scrapeTimeout)
	}
	settle()
	g0, fd0 := runtime.NumGoroutine(), openFDs(t)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)

	for i := range 1000 {
		f := fast[i%len(fast)]
		if _, out := probe(t, h, "target="+f.target, scrapeTimeout); !strings.Contains(out, "bender_cc_up 0") {
			t.Fatalf("%s: not up 0", f.name)
		}
	}
	settle()
	// On a busy machine connections' goroutines can take longer to end:
	// wait for them (a leak does not end).
	for deadline := time.Now().Add(20 * time.Second); runtime.NumGoroutine() > g0+5 && time.Now().Before(deadline); {
		settle()
	}
	g1, fd1 := runtime.NumGoroutine(), openFDs(t)
	runtime.ReadMemStats(&m1)
	t.Logf("after 1,000 failing probes: goroutines %d → %d, open fds %d → %d, heap in use %d → %d KiB",
		g0, g1, fd0, fd1, m0.HeapInuse>>10, m1.HeapInuse>>10)
	if g1 > g0+5 {
		t.Errorf("goroutines grew from %d to %d", g0, g1)
	}
	if fd1 > fd0+5 {
		t.Errorf("open file descriptors grew from %d to %d", fd0, fd1)
	}
	if int64(m1.HeapInuse)-int64(m0.HeapInuse) > 16<<20 {
		t.Errorf("heap in use grew by %d MiB", (m1.HeapInuse-m0.HeapInuse)>>20)
	}
}

// TestSimulatorFaults drives the simulator's own fault injection through the
// handler: every network or HTTP fault is up 0 with its cause, latency
// within the timeout is a normal answer, device faults are reported values.
func TestSimulatorFaults(t *testing.T) {
	fleet, err := simulator.NewFleet(simulator.Options{Controllers: 1, Seed: 1, Firmware: "5.33"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fleet)
	defer srv.Close()
	h, logs := newHandler(t, "")
	target := "target=" + srv.URL + "/cc/1"
	for _, tt := range []struct{ mode, want, reason string }{
		{"500", "bender_cc_up 0", "HTTP 500"},
		{"401", "bender_cc_up 0", "HTTP 401"},
		{"404", "bender_cc_up 0", "REST interface disabled"},
		{"html", "bender_cc_up 0", "HTML"},
		{"garbage", "bender_cc_up 0", "binary"},
		{"truncated", "bender_cc_up 0", "unexpected EOF"},
		{"hang", "bender_cc_up 0", "timeout"},
		{"latency:300ms", "\nbender_cc_up 1", ""},
		{"rcmb", `bender_cc_rcmb_state{state="triggered"} 1`, ""},
		{"backend_lost", `bender_cc_backend_connection_state{state="not_connected"} 1`, ""},
	} {
		spec, err := simulator.ParseFault(tt.mode)
		if err != nil {
			t.Fatal(err)
		}
		fleet.SetFault(1, spec)
		code, out := probe(t, h, target, scrapeTimeout)
		if code != 200 || !strings.Contains(out, tt.want+"\n") {
			t.Errorf("%s: %d, want %q in\n%s", tt.mode, code, tt.want, out)
		}
		if tt.reason != "" && !strings.Contains(lastLine(logs.String()), tt.reason) {
			t.Errorf("%s: log %q lacks %q", tt.mode, lastLine(logs.String()), tt.reason)
		}
	}
}

// TestFailureLogVolume: a controller that stays down logs a warning when
// the failure starts, when its cause changes, as a reminder now and then,
// and an info line when it ends — not one warning per scrape.
func TestFailureLogVolume(t *testing.T) {
	var mode atomic.Int64
	ctl := newCountingServer(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		switch mode.Load() {
		case 0:
			w.WriteHeader(http.StatusInternalServerError)
		case 1:
			w.WriteHeader(http.StatusNotFound)
		default:
			serveFixture(t, "fw5.22.1_mennekes.txt")(w, r)
		}
	})
	h, logs := newHandler(t, "")
	scrape := func(n int) {
		for range n {
			probe(t, h, "target="+ctl.URL, nil)
		}
	}
	count := func(msg string) int {
		return strings.Count(logs.String(), `level=warn msg="`+msg+`"`) + strings.Count(logs.String(), `level=info msg="`+msg+`"`)
	}
	scrape(20)
	if n := count("Probe failed"); n != 1 {
		t.Errorf("20 failed scrapes of one controller logged %d warnings, want 1:\n%s", n, logs.String())
	}
	// The reminder, once the failure has lasted long enough.
	key := "default\x00" + ctl.URL
	h.failures.mu.Lock()
	h.failures.m[key].logged = time.Now().Add(-failureReminder)
	h.failures.mu.Unlock()
	scrape(3)
	if n := count("Probe still failing"); n != 1 || !strings.Contains(logs.String(), "failed_probes=21") {
		t.Errorf("reminder: %d lines, want 1 with failed_probes=21:\n%s", n, logs.String())
	}
	mode.Store(1)
	scrape(5)
	if n := count("Probe failed, for another cause"); n != 1 {
		t.Errorf("a changed cause logged %d lines, want 1:\n%s", n, logs.String())
	}
	mode.Store(2)
	scrape(5)
	if n := count("Probe succeeds again"); n != 1 || !strings.Contains(logs.String(), `level=info msg="Probe succeeds again"`) {
		t.Errorf("recovery logged %d lines, want 1 at info:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "level=warn"); n != 3 {
		t.Errorf("%d warnings in all, want 3 (start, reminder, new cause):\n%s", n, logs.String())
	}
}
