//go:build linux

package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/bender-cc/bender_cc_exporter/internal/testenv"
	"github.com/bender-cc/bender_cc_exporter/simulator"
)

// abusedExporter is one exporter under attack and what was seen of it.
type abusedExporter struct {
	name, addr string
	pid        int
	auth       bool

	fdsBefore, fdsMax, fdsAfter int
	rssBefore, rssMax, rssAfter int // KiB
	goroutinesBefore            float64
}

// TestAbuseOfExporterPort: a real Prometheus scrapes /probe (a simulated
// controller) and /metrics of two exporters, one with basic auth, every
// second, while 2,000 clients per exporter open connections and send their
// headers one byte a second (opening a new one a second after the exporter
// closes theirs) and a flood of /probe requests for targets outside
// probe.allowed_targets arrives. The exporters run with 1,024 file
// descriptors and --probe.max-in-flight=256 (so the default
// --web.max-connections is 512): every scrape in the window must succeed,
// bender_cc_up must be 1 in each, and descriptors must stay bounded and come
// back afterwards.
//
// BENDER_CC_ABUSE_SECONDS (20), _CLIENTS (2000 per exporter), _FLOOD_RATE
// (requests a second per exporter, 500), _NOFILE (1024) and _MAX_CONNS
// (--web.max-connections; unset: the default) change it;
// BENDER_CC_ABUSE_MAX_CONNS=0 is the exporter without the bound, which
// loses scrapes (docs/security.md). BENDER_CC_ABUSE_WRONG_PASSWORDS=1 makes
// the flood on the basic-auth exporter guess a new password each time.
func TestAbuseOfExporterPort(t *testing.T) {
	prom := testenv.Tool(t, "prometheus")
	seconds := testenv.Int(t, "BENDER_CC_ABUSE_SECONDS", 20)
	clients := testenv.Int(t, "BENDER_CC_ABUSE_CLIENTS", 2000)
	floodRate := testenv.Int(t, "BENDER_CC_ABUSE_FLOOD_RATE", 500)
	nofile := testenv.Int(t, "BENDER_CC_ABUSE_NOFILE", 1024)
	wrongPasswords := testenv.Int(t, "BENDER_CC_ABUSE_WRONG_PASSWORDS", 0) == 1
	// The probes get 0.8 s of the 1 s scrape timeout: the simulated
	// controller shares this process's CPUs with the attack.
	flags := []string{"--probe.max-in-flight=256", "--timeout-offset=0.2s"}
	bound := true // the default one, --probe.max-in-flight + 256
	const defaultBound = 512
	if m := os.Getenv("BENDER_CC_ABUSE_MAX_CONNS"); m != "" {
		flags, bound = append(flags, "--web.max-connections="+m), false
	}

	// This process holds every attacking connection: 2,000 per exporter.
	if err := testenv.RaiseFileLimit(uint64(2*clients + 500)); err != nil {
		t.Fatalf("%d attacking connections need %d file descriptors: %v (raise ulimit -n)", 2*clients, 2*clients+500, err)
	}

	sim, err := simulator.NewFleet(simulator.Options{Controllers: 1, Seed: 42, Firmware: "mixed"})
	if err != nil {
		t.Fatal(err)
	}
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	controller := simSrv.URL + "/cc/1"

	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte("modules: {default: {timeout: 5s}}\nprobe: {allowed_targets: [127.0.0.1/32]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	webCfg := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webCfg, []byte(fmt.Sprintf("basic_auth_users: {%s: %q}\n", testenv.BasicAuthUser, testenv.BasicAuthHash)), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildExporter(t)
	var exporters []*abusedExporter
	for _, auth := range []bool{false, true} {
		e := &abusedExporter{name: "plain", auth: auth}
		args := append([]string{"--config.file=" + cfg}, flags...)
		ready := func(addr string) string { return "http://" + addr + "/-/ready" }
		if auth {
			e.name = "basic_auth"
			args = append(args, "--web.config.file="+webCfg)
			ready = func(addr string) string {
				return "http://" + testenv.BasicAuthUser + ":" + testenv.BasicAuthPassword + "@" + addr + "/-/ready"
			}
		}
		// Both limits: Go raises the soft one to the hard one at start.
		addr, proc := serveProcReady(t, "sh", ready, func(addr string) []string {
			return append([]string{"-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, nofile), bin, "--web.listen-address=" + addr}, args...)
		})
		e.addr, e.pid = addr, proc.Pid
		exporters = append(exporters, e)
	}
	f := &Fleet{PromURL: "http://" + serve(t, prom, func(addr string) []string {
		return []string{"--config.file=" + abusePromConfig(t, dir, controller, exporters), "--storage.tsdb.path=" + filepath.Join(dir, "data"), "--web.listen-address=" + addr}
	})}
	Eventually(t, 60*time.Second, func() error {
		s, err := f.Query(t, `count(count_over_time(up[10s]) >= 3)`)
		if err != nil || len(s) != 1 || s[0].Value != 4 {
			return fmt.Errorf("waiting for 3 scrapes of each of the 4 jobs: %v %v", s, err)
		}
		return nil
	})
	for _, e := range exporters {
		e.fdsBefore, e.rssBefore = procUsage(t, e.pid)
		e.goroutinesBefore = goroutines(t, f, e, "")
	}

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var slow, flood abuseCounts
	for _, e := range exporters {
		slowClients(ctx, &wg, e.addr, clients, &slow)
		floodRefused(ctx, &wg, e, floodRate, wrongPasswords, &flood)
	}
	wg.Add(1)
	go func() { // the exporters' resources while under attack
		defer wg.Done()
		for ctx.Err() == nil {
			for _, e := range exporters {
				fds, rss := procUsage(t, e.pid)
				e.fdsMax, e.rssMax = max(e.fdsMax, fds), max(e.rssMax, rss)
			}
			sleepCtx(ctx, 250*time.Millisecond)
		}
	}()
	start := time.Now()
	time.Sleep(time.Duration(seconds) * time.Second)
	stop()
	end := time.Now()
	wg.Wait()
	t.Logf("%d s: slow clients opened %d connections (%d dials failed, %d closed by the exporters); refused-target flood: %d requests, %d answered 403, %d 401, %d other, %d failed",
		seconds, slow.opened.Load(), slow.dialFailed.Load(), slow.closed.Load(), flood.sent.Load(), flood.forbidden.Load(), flood.unauthorized.Load(), flood.other.Load(), flood.failed.Load())

	// Every scrape Prometheus made in the window, and what it got. Its last
	// scrapes in the window are in once the next ones are.
	time.Sleep(3 * time.Second)
	window := fmt.Sprintf("[%dms] @ %.3f", end.Sub(start).Milliseconds(), float64(end.UnixMilli())/1000)
	value := func(q string) float64 {
		s := f.MustQuery(t, q)
		if len(s) != 1 {
			t.Fatalf("%s: %v", q, s)
		}
		return s[0].Value
	}
	for _, e := range exporters {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			e.fdsAfter, e.rssAfter = procUsage(t, e.pid)
			if e.fdsAfter <= e.fdsBefore+8 || time.Now().After(deadline) {
				break
			}
		}
		var report strings.Builder
		for _, job := range []string{"probe_" + e.name, "exporter_" + e.name} {
			attempted := value(fmt.Sprintf(`count_over_time(up{job=%q}%s)`, job, window))
			succeeded := value(fmt.Sprintf(`sum_over_time(up{job=%q}%s)`, job, window))
			fmt.Fprintf(&report, "%s: %.0f of %.0f scrapes succeeded", job, succeeded, attempted)
			if succeeded != attempted {
				t.Errorf("%s: %.0f of %.0f scrapes in the window failed", job, attempted-succeeded, attempted)
			}
			if attempted < float64(seconds)*0.7 {
				t.Errorf("%s: only %.0f scrapes in %d s", job, attempted, seconds)
			}
			if strings.HasPrefix(job, "probe_") {
				up := value(fmt.Sprintf(`sum(sum_over_time(bender_cc_up{job=%q}%s)) or vector(0)`, job, window))
				fmt.Fprintf(&report, ", bender_cc_up 1 in %.0f", up)
				if up != succeeded {
					t.Errorf("%s: bender_cc_up was 1 in %.0f of %.0f scrapes", job, up, succeeded)
				}
			}
			report.WriteString("; ")
		}
		for _, reason := range []string{"idle", "waiting", "slow", "refused"} {
			n := value(fmt.Sprintf(`max(bender_cc_exporter_http_connections_shed_total{job="exporter_%s",reason=%q}) or vector(0)`, e.name, reason))
			fmt.Fprintf(&report, "shed %s %.0f, ", reason, n)
		}
		during, after := goroutines(t, f, e, window), goroutines(t, f, e, "")
		fmt.Fprintf(&report, "goroutines %.0f → %.0f at most → %.0f; fds %d → %d at most → %d; RSS %d → %d → %d KiB",
			e.goroutinesBefore, during, after, e.fdsBefore, e.fdsMax, e.fdsAfter, e.rssBefore, e.rssMax, e.rssAfter)
		t.Logf("%s exporter: %s", e.name, report.String())
		if e.fdsAfter > e.fdsBefore+8 || after > e.goroutinesBefore+20 {
			t.Errorf("%s exporter: %d file descriptors and %.0f goroutines after the attack, %d and %.0f before", e.name, e.fdsAfter, after, e.fdsBefore, e.goroutinesBefore)
		}
		if bound {
			// Each slot a descriptor, a few for the listener, Prometheus' and
			// the simulator's connections and the rest.
			if e.fdsMax > defaultBound+32 {
				t.Errorf("%s exporter: %d file descriptors at most under attack with a bound of %d connections", e.name, e.fdsMax, defaultBound)
			}
		}
	}
}

// abusePromConfig writes the Prometheus config: for each exporter a /probe
// job for the controller and a /metrics job, every second, with basic auth
// where the exporter wants it.
func abusePromConfig(t *testing.T, dir, controller string, exporters []*abusedExporter) string {
	t.Helper()
	var jobs []map[string]any
	for _, e := range exporters {
		probe := map[string]any{
			"job_name": "probe_" + e.name, "metrics_path": "/probe",
			"static_configs": []map[string]any{{"targets": []string{controller}}},
			"relabel_configs": []map[string]any{
				{"source_labels": []string{"__address__"}, "target_label": "__param_target"},
				{"source_labels": []string{"__param_target"}, "target_label": "instance"},
				{"target_label": "__address__", "replacement": e.addr},
			},
		}
		self := map[string]any{"job_name": "exporter_" + e.name, "static_configs": []map[string]any{{"targets": []string{e.addr}}}}
		if e.auth {
			for _, job := range []map[string]any{probe, self} {
				job["basic_auth"] = map[string]any{"username": testenv.BasicAuthUser, "password": testenv.BasicAuthPassword}
			}
		}
		jobs = append(jobs, probe, self)
	}
	out, err := yaml.Marshal(map[string]any{
		"global":         map[string]any{"scrape_interval": "1s", "scrape_timeout": "1s"},
		"scrape_configs": jobs,
	})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type abuseCounts struct {
	opened, dialFailed, closed                   atomic.Int64
	sent, forbidden, unauthorized, other, failed atomic.Int64
}

// slowClients starts n clients that each open a connection to addr and send
// a request header one byte a second, and open a new connection a second
// after the exporter closes theirs, until ctx ends.
func slowClients(ctx context.Context, wg *sync.WaitGroup, addr string, n int, counts *abuseCounts) {
	header := "GET /metrics HTTP/1.1\r\nHost: exporter\r\nUser-Agent: " + strings.Repeat("slow", 64) + "\r\n\r\n"
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				c, err := net.DialTimeout("tcp", addr, 2*time.Second)
				if err != nil {
					counts.dialFailed.Add(1)
					sleepCtx(ctx, time.Second)
					continue
				}
				counts.opened.Add(1)
				for i := 0; i < len(header) && ctx.Err() == nil; i++ {
					_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
					if _, err := c.Write([]byte{header[i]}); err != nil {
						counts.closed.Add(1)
						break
					}
					sleepCtx(ctx, time.Second)
				}
				_ = c.Close()
				sleepCtx(ctx, time.Second)
			}
		}()
	}
}

// floodRefused sends rate requests a second for /probe of targets outside
// probe.allowed_targets, over 8 keep-alive connections, with the exporter's
// credentials where it has basic auth (or, with wrong, a password of its
// own each time), until ctx ends.
func floodRefused(ctx context.Context, wg *sync.WaitGroup, e *abusedExporter, rate int, wrong bool, counts *abuseCounts) {
	const workers = 8
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			tick := time.NewTicker(time.Second * workers / time.Duration(max(rate, 1)))
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/probe?target=192.0.2.%d", e.addr, (w*workers+i)%250+1), nil)
				if e.auth {
					password := testenv.BasicAuthPassword
					if wrong {
						password = fmt.Sprintf("guess-%d-%d", w, i)
					}
					req.SetBasicAuth(testenv.BasicAuthUser, password)
				}
				counts.sent.Add(1)
				resp, err := client.Do(req)
				if err != nil {
					counts.failed.Add(1)
					continue
				}
				_ = resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusForbidden:
					counts.forbidden.Add(1)
				case http.StatusUnauthorized:
					counts.unauthorized.Add(1)
				default:
					counts.other.Add(1)
				}
			}
		}()
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// goroutines is the exporter's go_goroutines as Prometheus has it last
// (window empty), or the most in the window.
func goroutines(t *testing.T, f *Fleet, e *abusedExporter, window string) float64 {
	t.Helper()
	q := fmt.Sprintf(`go_goroutines{job="exporter_%s"}`, e.name)
	if window != "" {
		q = fmt.Sprintf(`max_over_time(go_goroutines{job="exporter_%s"}%s)`, e.name, window)
	}
	s := f.MustQuery(t, q)
	if len(s) != 1 {
		t.Fatalf("%s: %v", q, s)
	}
	return s[0].Value
}

// procUsage is the file descriptors and resident memory (KiB) of process pid.
func procUsage(t *testing.T, pid int) (fds, rssKiB int) {
	fd, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Errorf("exporter %d: %v", pid, err)
		return 0, 0
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Errorf("exporter %d: %v", pid, err)
		return 0, 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rssKiB, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return len(fd), rssKiB
}
