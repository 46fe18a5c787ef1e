package probe

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
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
`, named.URL, refused.URL))

	for _, tt := range []struct {
		name, target string
		code         int
		up, msg      string
	}{
		{"allowed network", allowed.URL, 200, "bender_cc_up 1", ""},
		{"allowed configured name", "garage", 200, "bender_cc_up 1", ""},
		{"refused address", refused.URL, 403, "", "address 127.0.0.2 is not in probe.allowed_targets"},
		{"named target's endpoint by address", named.URL, 200, "bender_cc_up 1", ""},
		{"another port of the named target's host", "http://" + namedHost + ":" + otherPort, 403, "", "address 127.0.0.3 is not in probe.allowed_targets"},
		{"configured name not listed", "shed", 403, "", `target "shed" is not in probe.allowed_targets`},
		{"unresolvable host name", "nowhere.invalid", 403, "", "cannot be resolved"},
		{"redirect out of the allowed set", redirector.URL, 200, "bender_cc_up 0", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out := probe(t, h, "target="+tt.target, nil)
			if code != tt.code || !strings.Contains(out, tt.up) || !strings.Contains(out, tt.msg) {
				t.Errorf("got %d %q, want %d with %q %q", code, out, tt.code, tt.up, tt.msg)
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
		{h.Metrics.refused.WithLabelValues(RefusedNotAllowed), 4},
		{h.Metrics.probes.WithLabelValues("default", ResultSuccess), 3},
		{h.Metrics.probes.WithLabelValues("default", ResultRedirectRefused), 1},
	} {
		if got := testutil.ToFloat64(c.metric); got != c.want {
			t.Errorf("%s = %g, want %g", c.metric.Desc(), got, c.want)
		}
	}

	// A host name is judged by the addresses it resolves to.
	strict, _ := newHandler(t, "probe: {allowed_targets: [192.0.2.0/24]}")
	_, port, _ := net.SplitHostPort(allowed.Addr)
	before := allowed.conns.Load()
	code, out := probe(t, strict, "target=localhost:"+port, nil)
	if code != 403 || !strings.Contains(out, "host localhost resolves to") || allowed.conns.Load() != before {
		t.Errorf("localhost under a policy without loopback: %d %q", code, out)
	}
	if !strings.Contains(logs.String(), "redirect not followed: "+refused.URL+"/rest/full_state: ") {
		t.Errorf("redirect refusal not logged:\n%s", logs.String())
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
		"bender_cc_up 1", "bender_cc_parse_errors 4",
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
		"con_cycles_type2:1234\nerrors:no_errors\ntype2_proximity:32\nmcb_type2_state:okay\ndisplay_text:hello\n"))
	h, _ := newHandler(t, "")
	_, out := probe(t, h, "target="+ctl.URL+"&debug=true", nil)
	for _, want := range []string{
		"slave_state:                                  → empty value: nothing to export\n",
		"auth_uid:<redacted>                           → not exported: personal data or free text\n",
		"display_text:hello                            → not exported: personal data or free text\n",
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
