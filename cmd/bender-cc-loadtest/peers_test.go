package main

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestOpenPhase: the schedule sends rate × duration probes, the targets in
// turn, and counts an answer as good only when it is 200 and the peer's
// measure says so.
func TestOpenPhase(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path]++
		mu.Unlock()
		if r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds") != "10" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/down":
			_, _ = w.Write([]byte("# x\nprobe_success 0\n"))
		case "/error":
			http.Error(w, "no", http.StatusInternalServerError)
		default:
			_, _ = w.Write([]byte("# x\nprobe_success 1\n"))
		}
	}))
	defer srv.Close()
	ok := blackboxPeer("").ok
	targets := []target{{url: "/up"}, {url: "/down"}, {url: "/error"}, {url: "/up2"}}
	get := func(tg target, lat *[]time.Duration) bool {
		*lat = append(*lat, 0)
		return fetchOK(srv.Client(), srv.URL+tg.url, "10", ok)
	}
	st := openPhase(targets, 40, 500*time.Millisecond, get)
	if st.ok != 10 || st.failed != 10 || len(st.lat) != 20 {
		t.Errorf("ok %d, failed %d, latencies %d; want 10, 10, 20", st.ok, st.failed, len(st.lat))
	}
	for _, p := range []string{"/up", "/down", "/error", "/up2"} {
		if seen[p] != 5 {
			t.Errorf("%s asked %d times, want 5 (the targets in turn)", p, seen[p])
		}
	}
	if fetchOK(srv.Client(), srv.URL+"/up", "9", ok) {
		t.Error("a 400 counted as a good answer")
	}
}
