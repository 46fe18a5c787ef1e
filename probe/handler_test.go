package probe

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/bender-cc/bender_cc_exporter/collector"
	"github.com/bender-cc/bender_cc_exporter/config"
	"github.com/bender-cc/bender_cc_exporter/internal/testenv"
	"github.com/bender-cc/bender_cc_exporter/simulator"
)

var update = flag.Bool("update", false, "rewrite the golden .prom files in testdata/")

// newHandler returns a Handler on a config file with the given YAML ("" for
// none) and the buffer its log goes to.
func newHandler(t testing.TB, yaml string) (*Handler, *testenv.LogBuffer) {
	t.Helper()
	path := ""
	if yaml != "" {
		path = filepath.Join(t.TempDir(), "config.yml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	h := config.NewHolder(path, "bender_cc_exporter/test", nil)
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	logs := &testenv.LogBuffer{}
	return &Handler{Config: h, Logger: log.NewLogfmtLogger(logs), TimeoutOffset: 500 * time.Millisecond, Metrics: NewMetrics(nil)}, logs
}

// controller serves body as /rest/full_state, like a charge controller.
func controller(t testing.TB, body []byte) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/rest/full_state" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// probe runs one /probe request through h and returns status and body.
func probe(t testing.TB, h http.Handler, query string, header http.Header) (int, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/probe?"+query, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

var durationLine = regexp.MustCompile(`(?m)^bender_cc_scrape_duration_seconds [0-9.e+-]+$`)

// TestGolden drives every fixture through the real handler against a
// controller and compares the exposition with testdata/<fixture>.prom.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("../testdata/*.txt")
	if len(files) < 3 {
		t.Fatalf("want at least 3 fixtures, found %d", len(files))
	}
	h, _ := newHandler(t, "")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			srv := controller(t, body)
			code, out := probe(t, h, "target="+srv.URL, nil)
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, out)
			}
			checkMetrics(t, out)
			out = durationLine.ReplaceAllString(out, "bender_cc_scrape_duration_seconds DURATION")
			golden := strings.TrimSuffix(f, ".txt") + ".prom"
			if *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./probe -update to create it)", err)
			}
			if out != string(want) {
				t.Errorf("output differs from %s (go test ./probe -update rewrites it):\n%s", golden, diff(string(want), out))
			}
		})
	}
}

// TestRealBody pins the values the issue names for the real 5.22.1 body.
func TestRealBody(t *testing.T) {
	body, err := os.ReadFile("../testdata/fw5.22.1_mennekes.txt")
	if err != nil {
		t.Fatal(err)
	}
	h, _ := newHandler(t, "")
	_, out := probe(t, h, "target="+controller(t, body).URL, nil)
	for _, want := range []string{
		"\nbender_cc_up 1",
		"bender_cc_energy_joules_total 6.01236e+07",
		"bender_cc_ambient_temperature_celsius 15",
		`bender_cc_contactor_cycles_total{connector="type2"} 5`,
		"bender_cc_errors 0",
		`bender_cc_type2_proximity_state{state="cable_attached"} 1`,
		"bender_cc_parse_errors 0",
		"bender_cc_unknown_keys 0",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("output lacks %q", want)
		}
	}
}

// checkMetrics runs the real promtool on an exposition.
func checkMetrics(t *testing.T, exposition string) {
	t.Helper()
	cmd := exec.Command(testenv.Tool(t, "promtool"), "check", "metrics")
	cmd.Stdin = strings.NewReader(exposition)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func diff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			fmt.Fprintf(&b, "line %d\n  want %q\n   got %q\n", i+1, w, g)
		}
	}
	return b.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestBadRequests(t *testing.T) {
	h, _ := newHandler(t, "")
	for _, tt := range []struct{ query, msg string }{
		{"target=127.0.0.1&module=nope", `unknown module "nope"`},
		{"module=default", "target parameter is missing"},
		{"target=ftp://x", "scheme must be http or https"},
		{"target=http://operator:pw@x", "credentials in the target are not allowed"},
	} {
		code, out := probe(t, h, tt.query, nil)
		if code != http.StatusBadRequest || !strings.Contains(out, tt.msg) {
			t.Errorf("%s: got %d %q, want 400 %q", tt.query, code, out, tt.msg)
		}
	}
	code, out := probe(t, h, "target=127.0.0.1", http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"soon"}})
	if code != http.StatusBadRequest {
		t.Errorf("bad timeout header: got %d %q", code, out)
	}
}

func TestTimeout(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/probe", nil)
	for _, tt := range []struct {
		header         string
		module, offset time.Duration
		want           time.Duration
	}{
		{"", 10 * time.Second, 500 * time.Millisecond, 10 * time.Second},
		{"10", 5 * time.Second, 500 * time.Millisecond, 5 * time.Second},
		{"3", 10 * time.Second, 500 * time.Millisecond, 2500 * time.Millisecond},
		{"0.2", 10 * time.Second, 500 * time.Millisecond, 200 * time.Millisecond},
	} {
		r.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", tt.header)
		got, err := timeout(r, tt.module, tt.offset)
		if err != nil || got != tt.want {
			t.Errorf("header %q module %v: got %v %v, want %v", tt.header, tt.module, got, err, tt.want)
		}
	}
}

// TestCredentialsAndNamedTargets: headers only from a module with a
// username, password from its file, never in logs; labels of a named target
// on every series.
func TestCredentialsAndNamedTargets(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	body, _ := os.ReadFile("../testdata/fw5.22.1_mennekes.txt")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		if r.Header.Get("Password") != "" && r.Header.Get("Password") != "pa55-from-file" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "operator.password"), []byte("pa55-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h, logs := newHandler(t, fmt.Sprintf(`
modules:
  operator:
    username: operator
    password_file: %s/operator.password
  wrong:
    username: operator
    password: not-the-password
targets:
  - name: garage
    address: %s
    module: operator
    labels: {site: home}
`, dir, srv.URL))

	_, out := probe(t, h, "target="+srv.URL, nil)
	if !strings.Contains(out, "\nbender_cc_up 1") || seen[0].Get("Username") != "" || seen[0].Get("Authorization") != "" {
		t.Errorf("default module: up? %v; headers sent: %v", strings.Contains(out, "\nbender_cc_up 1"), seen[0])
	}
	_, out = probe(t, h, "target=garage", nil)
	if h := seen[1]; h.Get("Authorization") != "Basic Auth" || h.Get("Username") != "operator" || h.Get("Password") != "pa55-from-file" {
		t.Errorf("operator module sent %v", h)
	}
	if !strings.Contains(out, `bender_cc_up{site="home"} 1`) || !strings.Contains(out, `bender_cc_power_watts{site="home"} 0`) {
		t.Errorf("named target: want site label on every series and up 1:\n%s", out)
	}
	if strings.Count(out, "\nbender_cc_") != strings.Count(out, `site="home"`) {
		t.Errorf("some series lack the target label:\n%s", out)
	}
	_, out = probe(t, h, "target=garage&module=wrong", nil)
	if !strings.Contains(out, `bender_cc_up{site="home"} 0`) {
		t.Errorf("wrong password: want up 0:\n%s", out)
	}
	for _, secret := range []string{"pa55-from-file", "not-the-password"} {
		if strings.Contains(logs.String(), secret) || strings.Contains(out, secret) {
			t.Errorf("password %q leaked into logs or output", secret)
		}
	}
}

// TestOtherTargetsKeepWorking: a hanging controller does not hold up others.
func TestOtherTargetsKeepWorking(t *testing.T) {
	body, _ := os.ReadFile("../testdata/fw5.22.1_mennekes.txt")
	good := controller(t, body).URL
	stop := make(chan struct{})
	hang := failing(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	defer close(stop)
	h, _ := newHandler(t, "modules: {default: {timeout: 3s}}")
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() { defer wg.Done(); probe(t, h, "target="+hang, nil) }()
	}
	for range 20 {
		if _, out := probe(t, h, "target="+good, nil); !strings.Contains(out, "\nbender_cc_up 1") {
			t.Fatalf("good target failed while another hangs:\n%s", out)
		}
	}
	wg.Wait()
}

// simulatorURL serves a loopback simulated fleet of 100 controllers on firmware 5.33.
func simulatorURL(b *testing.B) string {
	fleet, err := simulator.NewFleet(simulator.Options{Controllers: 100, Seed: 1, Firmware: "5.33"})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(fleet)
	b.Cleanup(srv.Close)
	return srv.URL
}

// BenchmarkProbe is the whole /probe handler against a loopback simulator,
// exposition included.
func BenchmarkProbe(b *testing.B) {
	sim := simulatorURL(b)
	h, _ := newHandler(b, "")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i = i%100 + 1
		if code, _ := probe(b, h, fmt.Sprintf("target=%s/cc/%d", sim, i), nil); code != http.StatusOK {
			b.Fatal(code)
		}
	}
}

// BenchmarkFetch is the raw request of BenchmarkProbe without the exporter's
// own work: BenchmarkProbe minus this is what a probe costs beyond the fetch.
func BenchmarkFetch(b *testing.B) {
	sim := simulatorURL(b)
	h, _ := newHandler(b, "")
	client := h.Config.Get().Client("default")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i = i%100 + 1
		base, _ := collector.ParseTarget(fmt.Sprintf("%s/cc/%d", sim, i))
		if _, _, err := collector.Fetch(context.Background(), client, base, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProbeMetrics is what counting one probe in the exporter's own
// metrics costs (result, duration histogram with native buckets, in flight).
func BenchmarkProbeMetrics(b *testing.B) {
	m := NewMetrics(nil)
	m.InitModules([]string{"default"})
	b.ReportAllocs()
	for b.Loop() {
		m.inFlight.Inc()
		m.inFlight.Dec()
		m.observe("default", Classify(nil), 1234*time.Microsecond, false)
	}
}

// TestDebugViewDuration: a sub-millisecond probe's duration is shown as
// what it is, not as 0.000s.
func TestDebugViewDuration(t *testing.T) {
	body, err := os.ReadFile("../testdata/fw5.22.1_mennekes.txt")
	if err != nil {
		t.Fatal(err)
	}
	ctl := controller(t, body)
	h, _ := newHandler(t, "")
	_, out := probe(t, h, "debug=true&target="+ctl.URL, nil)
	m := regexp.MustCompile(`(?m)^  duration (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no duration line:\n%s", out)
	}
	if d, err := time.ParseDuration(m[1]); err != nil || d <= 0 {
		t.Errorf("duration %q: %v", m[1], err)
	}
}

// TestDocsSeriesPerController: the sizing in docs/scaling.md counts what a
// probe really returns (the golden files), not the document's lines.
func TestDocsSeriesPerController(t *testing.T) {
	doc, err := os.ReadFile("../docs/scaling.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`a probe returns (\d+)–(\d+) samples`).FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/scaling.md does not say how many samples a probe returns")
	}
	lo, _ := strconv.Atoi(string(m[1]))
	hi, _ := strconv.Atoi(string(m[2]))
	files, _ := filepath.Glob("../testdata/*.prom")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if !strings.HasPrefix(line, "#") {
				n++
			}
		}
		if n < lo || n > hi {
			t.Errorf("%s: %d samples, docs/scaling.md says %d–%d", f, n, lo, hi)
		}
	}
}
