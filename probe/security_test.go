package probe

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// countingServer is a controller on a given loopback address that counts
// the connections made to it.
type countingServer struct {
	URL   string
	Addr  string
	conns atomic.Int64
	reqs  atomic.Int64
}

func newCountingServer(t *testing.T, ip string, h http.HandlerFunc) *countingServer {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	cs := &countingServer{Addr: l.Addr().String(), URL: "http://" + l.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cs.reqs.Add(1)
		h(w, r)
	}), ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			cs.conns.Add(1)
		}
	}}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return cs
}

func serveFixture(t *testing.T, name string) http.HandlerFunc {
	body, err := os.ReadFile("../testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }
}

func TestAllowedTargets(t *testing.T) {
	ok := serveFixture(t, "fw5.22.1_mennekes.txt")
	allowed := newCountingServer(t, "127.0.0.1", ok)
	refused := newCountingServer(t, "127.0.0.2", ok)
	named := newCountingServer(t, "127.0.0.3", ok)
	unlisted := newCountingServer(t, "127.0.0.4", ok)
	redirector := newCountingServer(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, refused.URL+"/rest/full_state", http.StatusFound)
	})
	namedHost, _, _ := net.SplitHostPort(named.Addr)
	_, otherPort, _ := net.SplitHostPort(refused.Addr)
	h, logs := newHandler(t, fmt.Sprintf(`
probe:
  allowed_targets: [garage, 127.0.0.1/32, cc.example.net]
targets:
  - {name: garage, address: '%s'}
  - {name: shed, address: '%s'}
`, named.URL, unlisted.URL))

	for _, tt := range []struct {
		name, target string
		code         int
		up, msg      string
	}{
		{"allowed network", allowed.URL, 200, "\nbender_cc_up 1", ""},
		{"allowed configured name", "garage", 200, "\nbender_cc_up 1", ""},
		{"refused address says what to add", refused.URL, 403, "", "address 127.0.0.2 is not in probe.allowed_targets: add it, or a network containing its address"},
		{"named target's endpoint by address", named.URL, 200, "\nbender_cc_up 1", ""},
		{"another port of the named target's host", "http://" + namedHost + ":" + otherPort, 403, "", "address 127.0.0.3 is not in probe.allowed_targets"},
		// The targets of the operator's own file are the operator's.
		{"configured name not listed", "shed", 200, "\nbender_cc_up 1", ""},
		{"configured name's address not listed", unlisted.URL + "/", 200, "\nbender_cc_up 1", ""},
		// A name that resolves to nothing reaches nothing: a failed probe, so
		// that bender_cc_up 0 and the unreachable alert say so.
		{"unresolvable host name", "nowhere.invalid", 200, "bender_cc_up 0", ""},
		{"redirect out of the allowed set", redirector.URL, 200, "bender_cc_up 0", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out := probe(t, h, "target="+tt.target, nil)
			if code != tt.code || !strings.Contains(out, tt.up) || !strings.Contains(out, tt.msg) {
				t.Errorf("got %d %.300q, want %d with %q %q", code, out, tt.code, tt.up, tt.msg)
			}
		})
	}
	if n := refused.conns.Load(); n != 0 {
		t.Errorf("the refused controller saw %d connections", n)
	}
	for _, c := range []struct {
		metric prometheus.Counter
		want   float64
	}{
		{h.Metrics.refused.WithLabelValues(RefusedNotAllowed), 2},
		{h.Metrics.probes.WithLabelValues("default", ResultSuccess), 5},
		{h.Metrics.probes.WithLabelValues("default", ResultDNS), 1},
		{h.Metrics.probes.WithLabelValues("default", ResultRedirectRefused), 1},
	} {
		if got := testutil.ToFloat64(c.metric); got != c.want {
			t.Errorf("%s = %g, want %g", c.metric.Desc(), got, c.want)
		}
	}
	// Refusals are logged at the default level, with what to add.
	for _, want := range []string{
		`level=warn msg="Probe request refused" code=403 reason=not_allowed target=` + refused.URL,
		`level=warn msg="Probe failed" target=nowhere.invalid module=default`,
		"redirect not followed: " + refused.URL + "/rest/full_state: ",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}

	// A host name is judged by the addresses it resolves to, and the
	// refusal does not say what they are.
	strict, _ := newHandler(t, "probe: {allowed_targets: [192.0.2.0/24]}")
	_, port, _ := net.SplitHostPort(allowed.Addr)
	before := allowed.conns.Load()
	code, out := probe(t, strict, "target=localhost:"+port, nil)
	if code != 403 || !strings.Contains(out, "host localhost is not in probe.allowed_targets") ||
		strings.Contains(out, "127.0.0.1") || strings.Contains(out, "::1") || allowed.conns.Load() != before {
		t.Errorf("localhost under a policy without loopback: %d %q", code, out)
	}
}

// TestRefusalsSayWhatToDo: a refused request's answer and log line tell
// the operator what to change, and the log is not flooded.
func TestRefusalsSayWhatToDo(t *testing.T) {
	h, logs := newHandler(t, `
modules: {default: {}, operator: {}}
probe: {allowed_targets: [127.0.0.1/32]}
`)
	for _, tt := range []struct{ query, msg string }{
		{"module=default", "target parameter is missing"},
		{"target=127.0.0.1&module=nosuch", `unknown module "nosuch": the configured modules are default, operator`},
		{"target=ftp://127.0.0.1", "scheme must be http or https"},
		{"target=127.0.0.9", "add it, or a network containing its address, to probe.allowed_targets, or configure the controller under targets"},
	} {
		code, out := probe(t, h, tt.query, nil)
		if code < 400 || !strings.Contains(out, tt.msg) {
			t.Errorf("%s: %d %q, want %q", tt.query, code, out, tt.msg)
		}
		if !strings.Contains(logs.String(), strings.ReplaceAll(tt.msg, `"`, `\"`)) {
			t.Errorf("%s: not logged at the default level:\n%s", tt.query, logs.String())
		}
	}
	logs.Reset()
	for range 200 {
		probe(t, h, "target=127.0.0.9", nil)
	}
	if n := strings.Count(logs.String(), "Probe request refused"); n > refusalLogBurst {
		t.Errorf("200 refusals in a row gave %d log lines, want at most %d", n, refusalLogBurst)
	}
}

// TestSharedRequests: 20 simultaneous probes of one controller and module
// make one request to it, and all 20 get the full answer.
func TestSharedRequests(t *testing.T) {
	fixture := serveFixture(t, "fw5.33_charging.txt")
	ctl := newCountingServer(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond) // a slow controller: the probes overlap
		fixture(w, r)
	})
	h, _ := newHandler(t, "")
	var wg sync.WaitGroup
	outs := make([]string, 20)
	start := make(chan struct{})
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, outs[i] = probe(t, h, "target="+ctl.URL, nil)
		}()
	}
	close(start)
	wg.Wait()
	if n := ctl.reqs.Load(); n != 1 {
		t.Errorf("controller saw %d requests, want 1", n)
	}
	if n := testutil.ToFloat64(h.Metrics.shared.WithLabelValues("default")); n != 19 {
		t.Errorf("probes_shared_total = %g, want 19 (all but the one that asked)", n)
	}
	for i, out := range outs {
		if !strings.Contains(out, "bender_cc_up 1\n") || !strings.Contains(out, "bender_cc_power_watts 11040\n") {
			t.Errorf("probe %d:\n%s", i, out)
		}
	}
	// Afterwards a new probe makes a new request: nothing is cached.
	probe(t, h, "target="+ctl.URL, nil)
	if n := ctl.reqs.Load(); n != 2 {
		t.Errorf("after the shared probe, controller saw %d requests, want 2", n)
	}
}

func TestDebugView(t *testing.T) {
	body, err := os.ReadFile("../testdata/faulted_crlf.txt")
	if err != nil {
		t.Fatal(err)
	}
	// The controller echoes the password it got into its display text, as
	// a badly behaved firmware might: the debug view must still hide it.
	ctl := newCountingServer(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(append(body, []byte("display_text:pw="+r.Header.Get("Password")+"\r\nauth_uid:04DEADBEEF\r\n")...))
	})
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/pw", []byte("Sup3r-Secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	h, _ := newHandler(t, fmt.Sprintf("modules: {operator: {username: operator, password_file: %s/pw}}", dir))
	code, out := probe(t, h, "target="+ctl.URL+"&module=operator&debug=true", nil)
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	for _, want := range []string{
		"GET " + ctl.URL + "/rest/full_state", "Authorization: Basic Auth", "Username: operator", "Password: <redacted>",
		"HTTP 200 OK",
		"ocpp_state:Störung", `→ bender_cc_ocpp_state{state="Störung"} = 1`,
		"lte_state:lte_connected", "→ unknown key",
		"free_charging:maybe", `→ NOT PARSED: want "on" or "off"`,
		`→ bender_cc_current_amperes{phase="L1"} = 0`,
		"auth_uid:<redacted>", "display_text:pw=<redacted>",
		"\nbender_cc_up 1", "bender_cc_parse_errors 4",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("debug view lacks %q", want)
		}
	}
	for _, secret := range []string{"Sup3r-Secret", "04DEADBEEF"} {
		if strings.Contains(out, secret) {
			t.Errorf("debug view shows %q:\n%s", secret, out)
		}
	}
	// A failing controller: the error and what it sent.
	bad := newCountingServer(t, "127.0.0.1", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte("<html>Login required</html>"))
	})
	_, out = probe(t, h, "target="+bad.URL+"&module=operator&debug=true", nil)
	for _, want := range []string{"HTTP 401 Unauthorized", "error: HTTP 401", "<html>Login required</html>", "bender_cc_up 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("debug view of a failure lacks %q:\n%s", want, out)
		}
	}
}

func TestServiceDiscovery(t *testing.T) {
	h, _ := newHandler(t, `
modules: {operator: {username: operator, password: x}}
targets:
  - {name: garage, address: 'http://192.0.2.50', labels: {site: home}}
  - {name: depot-7, address: 'https://cc7.example.net:8443/charger', module: operator, labels: {site: depot, chargepoint: "7"}}
`)
	w := httptest.NewRecorder()
	SDHandler(h.Config).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/sd", nil))
	want := `[{"targets":["http://192.0.2.50"],"labels":{"__param_module":"default","site":"home"}},` +
		`{"targets":["https://cc7.example.net:8443/charger"],"labels":{"__param_module":"operator","chargepoint":"7","site":"depot"}}]` + "\n"
	if w.Body.String() != want || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("/sd:\n got %s\nwant %s", w.Body.String(), want)
	}
	if strings.Contains(w.Body.String(), "operator\",\"x") {
		t.Error("credentials in /sd")
	}
}

// TestDebugViewLines: every line says exactly which samples it became, with
// all their labels, or why it became none.
func TestDebugViewLines(t *testing.T) {
	ctl := controller(t, []byte("conn_state:no_vehicle_connected\nslave_state:\nauth_uid:04AABBCC\n"+
		"con_cycles_type2:1234\nerrors:no_errors\ntype2_proximity:32\nmcb_type2_state:okay\ndisplay_text:hello\nBitte Karte\nvorhalten\npower_w:1\n"))
	h, _ := newHandler(t, "")
	_, out := probe(t, h, "target="+ctl.URL+"&debug=true", nil)
	for _, want := range []string{
		"slave_state:                                  → empty value: nothing to export\n",
		"auth_uid:<redacted>                           → not exported: personal data or free text\n",
		"display_text:hello                            → not exported: personal data or free text\n",
		"Bitte Karte                                   → goes on with the value above (a value over several lines)\n",
		"vorhalten                                     → goes on with the value above (a value over several lines)\n",
		"power_w:1                                     → bender_cc_power_watts = 1\n",
		"\nbender_cc_up 1\n",
		`→ bender_cc_contactor_cycles_total{connector="type2"} = 1234` + "\n",
		"errors:no_errors                              → bender_cc_errors = 0\n",
		`→ bender_cc_type2_proximity_state{state="32"} = 1, bender_cc_cable_current_limit_amperes = 32` + "\n",
		`→ bender_cc_mcb_state{connector="type2",state="okay"} = 1` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("debug view lacks %q:\n%s", want, out)
		}
	}
	ctl = controller(t, []byte("conn_state:no_vehicle_connected\nerrors:0x01;0x20\n"))
	_, out = probe(t, h, "target="+ctl.URL+"&debug=true", nil)
	if want := `→ bender_cc_error{error="0x01"} = 1, bender_cc_error{error="0x20"} = 1, bender_cc_errors = 2`; !strings.Contains(out, want) {
		t.Errorf("debug view lacks %q:\n%s", want, out)
	}
}

// TestProxyIsNoTarget: a module's proxy is where that module's client
// connects, not a target: no module may send a probe (and its password)
// to the proxy's address, by target or by redirect, and a host name goes
// through a proxy only when it is allowed by name (the proxy resolves it).
func TestProxyIsNoTarget(t *testing.T) {
	ok := serveFixture(t, "fw5.22.1_mennekes.txt")
	var (
		mu        sync.Mutex
		passwords []string
	)
	proxy := newCountingServer(t, "127.0.0.2", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		passwords = append(passwords, r.Header.Get("Password"))
		mu.Unlock()
		ok(w, r)
	})
	ctrl := newCountingServer(t, "127.0.0.1", ok)
	redirector := newCountingServer(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, proxy.URL+"/rest/full_state", http.StatusFound)
	})
	_, ctrlPort, _ := net.SplitHostPort(ctrl.Addr)
	h, _ := newHandler(t, fmt.Sprintf(`
modules:
  operator: {username: operator, password: s3cret-PASS}
  viaproxy: {username: operator, password: s3cret-PASS, http_client_config: {proxy_url: '%s'}}
probe: {allowed_targets: [127.0.0.1/32]}
`, proxy.URL))
	for _, tt := range []struct {
		query string
		code  int
		up    string
	}{
		{"module=operator&target=" + proxy.Addr, 403, ""},
		{"module=operator&target=" + proxy.URL + "/any/path", 403, ""},
		{"module=viaproxy&target=" + proxy.Addr, 403, ""},
		{"module=operator&target=" + redirector.URL, 200, "bender_cc_up 0"},
		{"module=viaproxy&target=localhost:" + ctrlPort, 403, ""},
	} {
		code, out := probe(t, h, tt.query, nil)
		if code != tt.code || !strings.Contains(out, tt.up) {
			t.Errorf("%s: %d %.200q, want %d %q", tt.query, code, out, tt.code, tt.up)
		}
	}
	if n := proxy.conns.Load(); n != 0 {
		t.Fatalf("the proxy got %d connections from refused probes (passwords %q)", n, passwords)
	}
	// The proxy still serves its own module's allowed targets.
	if code, out := probe(t, h, "module=viaproxy&target="+ctrl.Addr, nil); code != 200 || !strings.Contains(out, "\nbender_cc_up 1") {
		t.Errorf("probe through the proxy: %d %.200q", code, out)
	}
	if ctrl.reqs.Load() != 0 || proxy.reqs.Load() != 1 {
		t.Errorf("through the proxy: controller saw %d requests, proxy %d; want 0 and 1", ctrl.reqs.Load(), proxy.reqs.Load())
	}
}

// TestAlternativeSpellingsRefused: what held in the red-team run stays
// held — no other spelling of a forbidden address reaches it.
func TestAlternativeSpellingsRefused(t *testing.T) {
	forbidden := newCountingServer(t, "127.0.0.2", serveFixture(t, "fw5.22.1_mennekes.txt"))
	_, port, _ := net.SplitHostPort(forbidden.Addr)
	h, _ := newHandler(t, "probe: {allowed_targets: [127.0.0.1/32]}")
	for _, target := range []string{
		"127.0.0.2:" + port, "0x7f000002:" + port, "2130706434:" + port, "127.2:" + port, "0177.0.0.2:" + port,
		"127.000.000.002:" + port, "[::ffff:127.0.0.2]:" + port, "[::ffff:7f00:2]:" + port,
		"http://127.0.0.1@127.0.0.2:" + port, "http://127.0.0.1:" + port + "@127.0.0.2:" + port,
		"HTTP://127.0.0.2:" + port, "http://127.0.0.2%2e:" + port, "１２７.０.０.２:" + port,
		"http://127.0.0.2:" + port + "%2f..%2f", "ftp://127.0.0.2:" + port, "http://[127.0.0.2]:" + port,
	} {
		code, out := probe(t, h, "target="+url.QueryEscape(target), nil)
		if code == 200 && strings.Contains(out, "\nbender_cc_up 1\n") {
			t.Errorf("%s reached the forbidden controller", target)
		}
	}
	if n := forbidden.conns.Load(); n != 0 {
		t.Errorf("the forbidden controller saw %d connections", n)
	}
}
