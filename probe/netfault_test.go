package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

// A misbehaving network between the exporter and a controller, made by
// toxiproxy in this process: the controller is the simulator, reached
// through a proxy whose toxics delay, throttle, slice, cut, reset or stall
// what passes.

// toxic is one toxiproxy toxic: its type, the direction it acts on
// ("downstream": controller to exporter, "upstream": the other way), its
// attributes, and its toxicity (the chance that a connection gets it; 0 to
// have it in the chain without effect).
type toxic struct {
	typ, stream string
	attrs       map[string]any
	toxicity    float32
}

func newToxiproxy(t testing.TB, upstream string) *toxiproxy.Proxy {
	t.Helper()
	zerolog.SetGlobalLevel(zerolog.Disabled) // toxiproxy logs every connection
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "controller", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

func addToxic(t testing.TB, p *toxiproxy.Proxy, name string, x toxic) *toxics.ToxicWrapper {
	t.Helper()
	b, err := json.Marshal(map[string]any{"name": name, "type": x.typ, "stream": x.stream, "toxicity": x.toxicity, "attributes": x.attrs})
	if err != nil {
		t.Fatal(err)
	}
	w, err := p.Toxics.AddToxicJson(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func both(typ string, attrs map[string]any) []toxic {
	return []toxic{{typ, "upstream", attrs, 1}, {typ, "downstream", attrs, 1}}
}

func down(typ string, attrs map[string]any) []toxic {
	return []toxic{{typ, "downstream", attrs, 1}}
}

// resetAfter lets n bytes of the answer through, then resets the
// connection: the toxicity-0 reset_peer is there for its SO_LINGER 0, which
// makes limit_data's close a reset (RST) instead of an orderly one.
func resetAfter(n int) []toxic {
	return []toxic{{"reset_peer", "downstream", map[string]any{"timeout": 0}, 0}, {"limit_data", "downstream", map[string]any{"bytes": n}, 1}}
}

// natForget is the toxic of a NAT (or firewall) that has lost the
// mappings of the connections open when it was added: what they send is
// dropped, nothing tells their ends, and they stay open. Connections that
// start later (a new mapping) pass. Removed, it closes the connections it
// black-holed, which are dead anyway.
type natForget struct {
	spare atomic.Bool // set once added: the connections that start now pass
}

func init() { toxics.Register("nat_forget", new(natForget)) }

type natForgetState struct{ dead bool }

// NewState is called for each connection when the toxic is added to it:
// for those open then, before Add returns, and for later ones when they start.
func (n *natForget) NewState() any { return &natForgetState{dead: !n.spare.Load()} }

func (n *natForget) Pipe(stub *toxics.ToxicStub) {
	dead := stub.State.(*natForgetState).dead
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			if !dead {
				stub.Output <- c
			}
		}
	}
}

func (n *natForget) Cleanup(stub *toxics.ToxicStub) {
	if stub.State.(*natForgetState).dead {
		stub.Close()
	}
}

// outcome is what a probe during the fault gives, and how many scrapes the
// fault costs: that probe and the one after the fault has cleared. reason
// is in the warning of a failed probe (for a Modbus timeout only the
// result: the reader's "no Modbus reply" and the probe's own deadline race).
type outcome struct {
	result string
	lost   int
	reason string
	what   string // what the exporter does, for the table
}

type netFault struct {
	name   string
	toxics func(source string) []toxic
	// fresh: the fault meets a new connection (the kept one is closed
	// first); else the connection the previous probe left idle.
	fresh bool
	// forget: the toxics are nat_forget ones, which spare the connections
	// that start after them.
	forget       bool
	closing      bool // the REST controller closes each connection after its answer
	scrape       float64
	rest, modbus outcome
}

var netFaults = []netFault{
	{name: "LTE: 300 ± 200 ms latency", scrape: 8,
		toxics: func(string) []toxic { return down("latency", map[string]any{"latency": 300, "jitter": 200}) },
		rest:   outcome{ResultSuccess, 0, "", "waits: one round trip on the kept connection"},
		modbus: outcome{ResultSuccess, 0, "", "waits: two round trips (the version, then 7 reads in one burst)"}},
	{name: "300 ms round trip (150 ms each way)", scrape: 4,
		toxics: func(string) []toxic { return both("latency", map[string]any{"latency": 150}) },
		rest:   outcome{ResultSuccess, 0, "", "waits: one round trip on the kept connection"},
		modbus: outcome{ResultSuccess, 0, "", "waits: two round trips (the version, then 7 reads in one burst)"}},
	{name: "2 KB/s link", scrape: 6,
		toxics: func(string) []toxic { return down("bandwidth", map[string]any{"rate": 2}) },
		rest:   outcome{ResultSuccess, 0, "", "waits for the answer (1 KB)"},
		modbus: outcome{ResultSuccess, 0, "", "waits for the replies"}},
	{name: "1-byte TCP segments", scrape: 4,
		toxics: func(string) []toxic {
			return both("slicer", map[string]any{"average_size": 1, "size_variation": 0, "delay": 20})
		},
		rest:   outcome{ResultSuccess, 0, "", "reassembles the answer"},
		modbus: outcome{ResultSuccess, 0, "", "reassembles each reply"}},
	{name: "peer reset mid-body or mid-frame", fresh: true,
		toxics: func(source string) []toxic {
			if source == "modbus" {
				return resetAfter(13 + 5) // the firmware version's reply, then 5 bytes of the next
			}
			return resetAfter(500) // of the ~1,000 bytes of header and body
		},
		rest:   outcome{ResultTruncated, 1, "connection reset by peer", "fails at once: body cut off, connection reset by peer"},
		modbus: outcome{ResultModbusBadFrame, 1, "cut off after 5 bytes", "fails at once: reply cut off after 5 bytes"}},
	{name: "VPN down, on a new connection", fresh: true,
		toxics: func(string) []toxic { return both("timeout", map[string]any{"timeout": 0}) },
		rest:   outcome{ResultTimeout, 1, "no answer within 1s", "gives up at the probe's timeout, closes the connection"},
		modbus: outcome{ResultTimeout, 1, "result=timeout", "gives up at the probe's timeout, closes the connection"}},
	{name: "VPN down, on the idle kept connection",
		toxics: func(string) []toxic { return both("timeout", map[string]any{"timeout": 0}) },
		rest:   outcome{ResultTimeout, 1, "no answer within 1s", "leaves the kept connection at half the timeout, asks on a new one, which gets no answer either; gives up at the timeout"},
		modbus: outcome{ResultTimeout, 1, "result=timeout", "keeps no connection: as on a new one"}},
	{name: "NAT forgets the idle kept connection", forget: true,
		toxics: func(string) []toxic { return both("nat_forget", nil) },
		rest:   outcome{ResultSuccess, 0, "", "leaves the kept connection at half the timeout, asks again on a new one"},
		modbus: outcome{ResultSuccess, 0, "", "keeps no connection between probes: unaffected"}},
	{name: "slow close (3 s)", closing: true,
		toxics: func(string) []toxic { return both("slow_close", map[string]any{"delay": 3000}) },
		rest:   outcome{ResultSuccess, 0, "", "reads the answer to its length, closes its end; does not wait for the controller's close"},
		modbus: outcome{ResultSuccess, 0, "", "closes its end after the last reply"}},
}

// TestNetworkFaults puts each fault of the network between the exporter and
// a controller, for REST and for Modbus: the probe during the fault gives
// the documented result within the scrape timeout, the first probe after
// the fault has cleared succeeds, no more scrapes are lost than the table
// says, and no goroutines or file descriptors are left behind. With
// BENDER_CC_NETFAULT_TABLE=1 it logs the table of docs/performance.md.
func TestNetworkFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	site := newModbusSite(t, siteNow)
	closing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		site.fleet.ServeHTTP(w, r)
	}))
	t.Cleanup(closing.Close)
	h, logs := newHandler(t, "modules:\n  rest: {}\n  mb: {source: modbus}\n")
	var table []string
	for _, f := range netFaults {
		for _, source := range []string{"rest", "modbus"} {
			t.Run(f.name+"/"+source, func(t *testing.T) {
				upstream, module, want, path := strings.TrimPrefix(site.rest, "http://"), "rest", f.rest, "/cc/2"
				if f.closing {
					upstream = strings.TrimPrefix(closing.URL, "http://")
				}
				if source == "modbus" {
					upstream, module, want, path = site.addrs[2], "mb", f.modbus, ""
				}
				before := len(logs.String())
				row, res := runNetFault(t, h, f, source, module, upstream+path, want)
				if logged := logs.String()[before:]; !strings.Contains(logged, want.reason) {
					t.Errorf("the log lacks %q:\n%s", want.reason, logged)
				}
				table = append(table, fmt.Sprintf("| %s | %s | %s | `%s` | %s | %d | %s |", f.name, source, want.what, want.result, row, want.lost, res))
			})
		}
	}
	if os.Getenv("BENDER_CC_NETFAULT_TABLE") != "" {
		t.Logf("\n| fault | source | what the exporter did | result | answer | scrapes lost | goroutines, fds before → after |\n|---|---|---|---|---|---|---|\n%s", strings.Join(table, "\n"))
	}
}

// runNetFault runs one fault and returns how long the probe during it took
// (of the scrape timeout), and the resources before and after.
func runNetFault(t *testing.T, h *Handler, f netFault, source, module, upstream string, want outcome) (took, resources string) {
	addr, path, _ := strings.Cut(upstream, "/")
	p := newToxiproxy(t, addr)
	target := "module=" + module + "&target=" + p.Listen
	if path != "" {
		target += "/" + path
	}
	scrape := f.scrape
	if scrape == 0 {
		scrape = 1.5
	}
	header := http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {fmt.Sprint(scrape)}}
	client := h.Config.Get().Client(module)
	up := func() bool {
		_, out := probe(t, h, target, header)
		return strings.Contains(out, "\nbender_cc_up 1\n")
	}
	if !up() { // the first probe starts what lives on (the proxy's listener, the resolver)
		t.Fatal("not up before the fault")
	}
	g0, fd0 := settleResources(t, client, 0, 0)
	if !up() { // leaves its REST connection idle, for the next probe
		t.Fatal("not up before the fault")
	}
	if f.fresh {
		client.CloseIdleConnections()
	}
	var added []*toxics.ToxicWrapper
	for i, x := range f.toxics(source) {
		added = append(added, addToxic(t, p, fmt.Sprint(x.typ, i), x))
	}
	if f.forget {
		for _, w := range added {
			w.Toxic.(*natForget).spare.Store(true)
		}
	}
	counted := testutil.ToFloat64(h.Metrics.probes.WithLabelValues(module, want.result))
	start := time.Now()
	_, out := probe(t, h, target, header)
	d := time.Since(start)
	lost := 0
	if !strings.Contains(out, "\nbender_cc_up 1\n") {
		lost++
	}
	if got := testutil.ToFloat64(h.Metrics.probes.WithLabelValues(module, want.result)); got != counted+1 {
		t.Errorf("probes_total{result=%q} went from %g to %g, want one more:\n%s", want.result, counted, got, out)
	}
	if limit := time.Duration(scrape * float64(time.Second)); d >= limit {
		t.Errorf("answered after %s, the scrape timeout is %s", d, limit)
	}
	p.Toxics.ResetToxics(context.Background())
	if !up() {
		lost++
		t.Error("the first probe after the fault cleared failed")
	}
	if lost != want.lost {
		t.Errorf("%d scrapes lost, want %d", lost, want.lost)
	}
	g1, fd1 := settleResources(t, client, g0, fd0)
	if g1 > g0+5 || fd1 > fd0+5 {
		t.Errorf("goroutines %d → %d, open fds %d → %d", g0, g1, fd0, fd1)
	}
	t.Logf("%s: %s in %s; goroutines %d → %d, fds %d → %d", f.name, want.result, d.Round(time.Millisecond), g0, g1, fd0, fd1)
	return fmt.Sprintf("%.2f s of %g s", d.Seconds(), scrape), fmt.Sprintf("%d, %d → %d, %d", g0, fd0, g1, fd1)
}

// settleResources closes the client's idle connections and waits for the
// goroutines and file descriptors of closed connections to go: until they
// are down to g0 and fd0 (a leak does not go) or 10 s have passed. With g0
// 0 (the baseline), it waits 0.1 s.
func settleResources(t *testing.T, client *http.Client, g0, fd0 int) (int, int) {
	deadline := time.Now().Add(10 * time.Second)
	if g0 == 0 {
		deadline = time.Now().Add(100 * time.Millisecond)
	}
	for {
		client.CloseIdleConnections()
		runtime.GC()
		time.Sleep(50 * time.Millisecond)
		g, fd := runtime.NumGoroutine(), openFDs(t)
		if g0 > 0 && g <= g0 && fd <= fd0 || time.Now().After(deadline) {
			return g, fd
		}
	}
}
