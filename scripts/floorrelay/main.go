// Command floorrelay is the least a Go program can do for a probe: GET the
// target's /rest/full_state over a kept-alive connection, read the body, and
// answer two lines. It is a measuring stick for make bench-peers, not a
// product: run as the --blackbox or --peers-baseline peer, its CPU per probe
// is what net/http and the Go runtime cost on this machine before any
// exporter does anything (docs/performance.md, "The floor").
//
//	go build -o /tmp/floorrelay ./scripts/floorrelay
//	go build -ldflags '-X main.oneP=1' -o /tmp/floorrelay1 ./scripts/floorrelay
package main

import (
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
)

// oneP, set at link time, runs Go code on one P, as the exporter's governor
// does while it is mostly idle.
var oneP string

func main() {
	if oneP != "" {
		runtime.GOMAXPROCS(1)
	}
	addr := "127.0.0.1:9999"
	for _, a := range os.Args[1:] { // the load tool's flags; only the address matters
		if v, ok := strings.CutPrefix(a, "--web.listen-address="); ok {
			addr = v
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100, MaxIdleConns: 2000}}
	http.HandleFunc("/probe", func(w http.ResponseWriter, r *http.Request) {
		answer := "# floor\nprobe_success 0\nbender_cc_up 0\n"
		t := r.URL.Query().Get("target")
		if !strings.Contains(t, "://") {
			t = "http://" + t
		}
		if !strings.HasSuffix(t, "/rest/full_state") {
			t = strings.TrimSuffix(t, "/") + "/rest/full_state"
		}
		if resp, err := client.Get(t); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				answer = "# floor\nprobe_success 1\nbender_cc_up 1\n"
			}
		}
		_, _ = io.WriteString(w, answer)
	})
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "floorrelay\n") })
	_ = http.ListenAndServe(addr, nil) //nolint:gosec // a loopback measuring stick, never deployed
}
