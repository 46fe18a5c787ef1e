package probe

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bender-cc/bender_cc_exporter/internal/modbustest"
	"github.com/bender-cc/bender_cc_exporter/simulator"
)

// fullSite is a simulated DLM site whose master (controller 1, fw 5.33) has
// a vehicle connected at siteNow: the probe that reads the most, over REST
// and over Modbus, of one and the same controller. Its Modbus server
// behaves as b (the zero value: pipelining, lenient, without the
// simulator's relay).
func fullSite(t testing.TB, b simulator.ModbusBehaviour) *modbusSite {
	t.Helper()
	for seed := uint64(1); seed < 200; seed++ {
		o := simulator.Options{Controllers: 4, Seed: seed, Firmware: "5.33", DLMSiteSize: 4,
			Start: siteNow.Add(-2 * time.Hour), Now: func() time.Time { return siteNow }}
		f, err := simulator.NewFleet(o)
		if err != nil {
			t.Fatal(err)
		}
		if cp := f.ModbusRegisters(1)[122]; cp < 2 || cp > 4 {
			continue
		}
		serve := modbustest.SiteDirect
		if b != (simulator.ModbusBehaviour{}) {
			o.Modbus, serve = b, modbustest.Site
		}
		f, addrs, srvs := serve(t, o)
		rest := httptest.NewServer(f)
		t.Cleanup(rest.Close)
		return &modbusSite{fleet: f, rest: rest.URL, addrs: addrs, srvs: srvs}
	}
	t.Fatal("no seed gives a DLM master with a vehicle connected")
	return nil
}

// linkProxy is a toxiproxy between the exporter and a controller that
// delays each direction by half the round trip (bytes sent together travel
// together), behind a counter of the bytes that cross it.
type linkProxy struct {
	Listen string
	n      atomic.Int64
}

func newLinkProxy(t testing.TB, upstream string, rtt time.Duration) *linkProxy {
	t.Helper()
	p := newToxiproxy(t, upstream)
	if rtt > 0 {
		for _, stream := range []string{"upstream", "downstream"} {
			addToxic(t, p, "latency_"+stream, toxic{"latency", stream, map[string]any{"latency": rtt.Milliseconds() / 2}, 1})
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	link := &linkProxy{Listen: l.Addr().String()}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go link.pass(c, p.Listen)
		}
	}()
	return link
}

func (l *linkProxy) pass(c net.Conn, to string) {
	defer func() { _ = c.Close() }()
	up, err := net.Dial("tcp", to)
	if err != nil {
		return
	}
	defer func() { _ = up.Close() }()
	go l.copy(up, c)
	l.copy(c, up)
}

// copy passes src to dst, counting as it goes; at the end of either it
// closes both.
func (l *linkProxy) copy(dst, src net.Conn) {
	defer func() { _, _ = dst.Close(), src.Close() }()
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		l.n.Add(int64(n))
		if _, werr := dst.Write(buf[:n]); werr != nil || err != nil {
			return
		}
	}
}

// bytes is what crossed the link so far, both directions.
func (l *linkProxy) bytes() float64 { return float64(l.n.Load()) }

// BenchmarkSlowLink is one probe of the same simulated controller (a DLM
// master with a vehicle connected: the most reads) over REST and over
// Modbus, through a link of 0, 50 and 300 ms round trip. It reports the
// requests and the bytes on the link per probe. toxiproxy delays bytes, not
// the TCP handshake: a new connection (every Modbus probe; a REST probe only
// when its kept connection is gone) costs one round trip more on a real
// link. modbus-one-at-a-time and modbus-strict are the same controller
// with a Modbus server that drops pipelined requests, or refuses reads
// across gaps of the map, from its second probe on (the first, which
// learns it, is not measured). Run with -benchtime=5x: a probe over 300 ms
// takes seconds.
func BenchmarkSlowLink(b *testing.B) {
	plain := fullSite(b, simulator.ModbusBehaviour{})
	sites := map[string]*modbusSite{"rest": plain, "modbus": plain,
		"modbus-one-at-a-time": fullSite(b, simulator.ModbusBehaviour{OneAtATime: true}),
		"modbus-strict":        fullSite(b, simulator.ModbusBehaviour{Strict: true})}
	for _, rtt := range []time.Duration{0, 50 * time.Millisecond, 300 * time.Millisecond} {
		for _, source := range []string{"rest", "modbus", "modbus-one-at-a-time", "modbus-strict"} {
			site := sites[source]
			b.Run(fmt.Sprintf("rtt=%s/%s", rtt, source), func(b *testing.B) {
				upstream, module, path := strings.TrimPrefix(site.rest, "http://"), "rest", "/cc/1"
				if source != "rest" {
					upstream, module, path = site.addrs[1], "mb", ""
				}
				link := newLinkProxy(b, upstream, rtt)
				h, _ := newHandler(b, "modules:\n  rest: {}\n  mb: {source: modbus}\n")
				query := "module=" + module + "&target=" + link.Listen + path
				run := func() {
					if code, out := probe(b, h, query, nil); code != http.StatusOK || !strings.Contains(out, "bender_cc_up 1\n") {
						b.Fatal(code, out)
					}
				}
				run() // REST keeps its connection for the next probe, as between scrapes
				requests, sent := site.fleet.Requests(1), link.bytes()
				b.ReportAllocs()
				for b.Loop() {
					run()
				}
				b.ReportMetric(float64(site.fleet.Requests(1)-requests)/float64(b.N), "requests/op")
				b.ReportMetric((link.bytes()-sent)/float64(b.N), "link-bytes/op")
			})
		}
	}
}

// BenchmarkSameController is one probe of the same simulated controller
// over REST and over Modbus on loopback, without a proxy: what a probe of
// each source costs, the controller's side included (compare the two).
func BenchmarkSameController(b *testing.B) {
	site := fullSite(b, simulator.ModbusBehaviour{})
	h, _ := newHandler(b, "modules:\n  rest: {}\n  mb: {source: modbus}\n")
	for _, source := range []string{"rest", "modbus"} {
		query := "module=rest&target=" + site.rest + "/cc/1"
		if source == "modbus" {
			query = "module=mb&target=" + site.addrs[1]
		}
		b.Run(source, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if code, out := probe(b, h, query, nil); code != http.StatusOK || !strings.Contains(out, "bender_cc_up 1\n") {
					b.Fatal(code, out)
				}
			}
		})
	}
}
