package probe

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// rawController answers every request on a loopback listener with the
// prepared bytes, whatever HTTP they break.
func rawController(t *testing.T, answer []byte) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { _ = c.Close() }()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				_, _ = c.Write(answer)
			}()
		}
	}()
	return "http://" + l.Addr().String()
}

// answer builds an HTTP answer: the interim 1xx header blocks, then a 200
// with extra header bytes of padding and body.
func answer(interim []int, padding int, body []byte) []byte {
	var b strings.Builder
	for _, pad := range interim {
		fmt.Fprintf(&b, "HTTP/1.1 103 Early Hints\r\nLink: <%s>\r\n\r\n", strings.Repeat("a", pad))
	}
	fmt.Fprintf(&b, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n", len(body))
	for i := 0; padding > 0; i++ {
		n := min(padding, 1000)
		fmt.Fprintf(&b, "X-Pad-%d: %s\r\n", i, strings.Repeat("p", n))
		padding -= n
	}
	b.WriteString("\r\n")
	b.Write(body)
	return []byte(b.String())
}

// TestResponseHeaderLimit: a hostile allowed controller that sends a huge
// header gets bender_cc_up 0 with a clear error, and the probe does not hold
// memory in proportion to the header; real headers, 1xx answers and large
// bodies still pass.
func TestResponseHeaderLimit(t *testing.T) {
	body, err := os.ReadFile("../testdata/fw5.22.1_mennekes.txt")
	if err != nil {
		t.Fatal(err)
	}
	big := []byte(string(body) + strings.Repeat("x_padding_key:some value of a line\n", 25000)) // ~900 KiB
	h, _ := newHandler(t, "probe: {allowed_targets: [127.0.0.1/32]}")
	for _, tt := range []struct {
		name    string
		interim []int
		padding int
		body    []byte
		want    string
	}{
		{"real controller", nil, 0, body, "bender_cc_up 1\n"},
		{"16 KiB of cookies", nil, 16 << 10, body, "bender_cc_up 1\n"},
		{"1xx answers before the header", []int{8 << 10, 8 << 10}, 8 << 10, body, "bender_cc_up 1\n"},
		{"large body after a small header", nil, 0, big, "bender_cc_up 1\n"},
		{"40 KiB header", nil, 40 << 10, body, "bender_cc_up 0\n"},
		{"1xx answers adding up past the limit", []int{20 << 10}, 20 << 10, body, "bender_cc_up 0\n"},
		{"8 MiB header", nil, 8 << 20, body, "bender_cc_up 0\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			url := rawController(t, answer(tt.interim, tt.padding, tt.body))
			_, out := probe(t, h, "target="+url, nil)
			if !strings.Contains(out, tt.want) {
				t.Fatalf("want %q in\n%s", tt.want, out)
			}
			if tt.want == "bender_cc_up 0\n" {
				if _, dbg := probe(t, h, "debug=true&target="+url, nil); !strings.Contains(dbg, "response header too large: more than 32 KiB") {
					t.Errorf("the error does not say why:\n%s", dbg)
				}
			}
		})
	}
	if n := testutil.ToFloat64(h.Metrics.probes.WithLabelValues("default", ResultTooLarge)); n != 6 {
		t.Errorf("probes_total{result=too_large} = %g, want 6", n)
	}

	// Memory: 16 concurrent probes of an 8 MiB header allocate far less
	// than one such header.
	url := rawController(t, answer(nil, 8<<20, body))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			probe(t, h, fmt.Sprintf("target=%s/p%d", url, i), nil)
		}()
	}
	wg.Wait()
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("16 probes of an 8 MiB header allocated %.1f MiB", float64(alloc)/(1<<20))
	if alloc > 8<<20 {
		t.Errorf("16 probes of an 8 MiB header allocated %.1f MiB", float64(alloc)/(1<<20))
	}
}

// TestResponseHeaderLimitTLS: over TLS the connection cannot tell the header
// from the body, so it bounds the whole answer: a huge header is refused, a
// real answer with the largest body accepted passes.
func TestResponseHeaderLimitTLS(t *testing.T) {
	body, err := os.ReadFile("../testdata/fw5.22.1_mennekes.txt")
	if err != nil {
		t.Fatal(err)
	}
	big := []byte(string(body) + strings.Repeat("x_padding_key:some value of a line\n", 29000)) // just under 1 MiB
	pad := strings.Repeat("p", 1000)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/huge/rest/full_state":
			for i := range 2048 { // 2 MiB of header
				w.Header().Set(fmt.Sprintf("X-Pad-%d", i), pad)
			}
			_, _ = w.Write(body)
		case "/big/rest/full_state":
			w.Header().Set("Set-Cookie", "session="+strings.Repeat("c", 16<<10))
			_, _ = w.Write(big)
		}
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	h, _ := newHandler(t, "modules: {default: {http_client_config: {tls_config: {insecure_skip_verify: true}}}}\nprobe: {allowed_targets: [127.0.0.1/32]}")
	if _, out := probe(t, h, "target="+srv.URL+"/big", nil); !strings.Contains(out, "bender_cc_up 1\n") {
		t.Errorf("a real answer over TLS:\n%s", out)
	}
	// Where the cap falls inside a TLS record, the HTTP client can see the
	// header cut off ("malformed MIME header") before the cap's own error:
	// either way the answer stops there (Go alone would take 10 MiB).
	if _, out := probe(t, h, "debug=true&target="+srv.URL+"/huge", nil); !strings.Contains(out, "bender_cc_up 0\n") ||
		!strings.Contains(out, "response header too large: header and body more than") && !strings.Contains(out, "malformed MIME header") {
		t.Errorf("a 2 MiB header over TLS:\n%s", out)
	}
}
