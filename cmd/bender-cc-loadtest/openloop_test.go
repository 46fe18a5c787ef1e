package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestProbeOnce: what counts as a lost or a wrong answer.
func TestProbeOnce(t *testing.T) {
	for _, tt := range []struct {
		name       string
		code       int
		body       string
		wantUp     bool
		ok, wrong  bool
		failurePfx string
	}{
		{"up as expected", 200, "# HELP x\nbender_cc_up 1\n", true, true, false, ""},
		{"down as expected", 200, "# HELP x\nbender_cc_up 0\n", false, true, false, ""},
		{"down, want up", 200, "# HELP x\nbender_cc_up 0\n", true, true, true, ""},
		{"up, want down", 200, "# HELP x\nbender_cc_up 1\n", false, true, true, ""},
		{"shed", 503, "more than 4096 probes in flight\n", true, false, false, "HTTP 503"},
		{"no up line", 200, "# HELP x\n", true, false, false, "no bender_cc_up"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds") != "10" {
				w.WriteHeader(400)
				return
			}
			w.WriteHeader(tt.code)
			_, _ = io.WriteString(w, tt.body)
		}))
		r := probeOnce(srv.Client(), srv.URL, "10", tt.wantUp, time.Now(), 5*time.Second)
		srv.Close()
		if r.ok != tt.ok || r.wrongUp != tt.wrong || !strings.HasPrefix(r.failure, tt.failurePfx) {
			t.Errorf("%s: %+v", tt.name, r)
		}
	}
}

// TestGrowth: flat resources pass, growing ones fail, a warm-up does not count.
func TestGrowth(t *testing.T) {
	mk := func(f func(i int) (float64, int)) []sample {
		var s []sample
		for i := range 20 {
			rss, n := f(i)
			s = append(s, sample{rss: rss, fds: n, goroutines: n})
		}
		return s
	}
	if err := growth(mk(func(i int) (float64, int) { return 20 + float64(i%3), 100 + i%5 })); err != nil {
		t.Errorf("flat: %v", err)
	}
	if err := growth(mk(func(i int) (float64, int) { return min(40, 10+10*float64(i)), min(300, 75*i) })); err != nil {
		t.Errorf("warm-up, then flat: %v", err)
	}
	err := growth(mk(func(i int) (float64, int) { return 20 + 3*float64(i), 100 + 30*i }))
	if err == nil || !strings.Contains(err.Error(), "RSS") || !strings.Contains(err.Error(), "goroutines") {
		t.Errorf("growing: %v", err)
	}
}

// TestScrape: labelled series are summed, a missing metric stays nil, and an
// answer that is not /metrics is an error, never a reading of zero.
func TestScrape(t *testing.T) {
	code := 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "# HELP go_goroutines x\ngo_goroutines 42\n"+
			`bender_cc_exporter_probes_total{module="a",result="success"} 7`+"\n"+
			`bender_cc_exporter_probes_total{module="a",result="timeout"} 3`+"\n"+
			"bender_cc_exporter_probes_in_flight 1\n")
	}))
	defer srv.Close()
	e := &exporterProc{addr: strings.TrimPrefix(srv.URL, "http://")}
	m, err := e.scrape(srv.Client(), "go_goroutines", "bender_cc_exporter_probes_total", "absent")
	if err != nil {
		t.Fatal(err)
	}
	if *m["go_goroutines"] != 42 || *m["bender_cc_exporter_probes_total"] != 10 || m["absent"] != nil {
		t.Errorf("got goroutines %v, probes %v, absent %v", *m["go_goroutines"], *m["bender_cc_exporter_probes_total"], m["absent"])
	}
	if got := e.metric(srv.Client(), "absent"); got != "?" {
		t.Errorf("metric(absent) = %q, want ?", got)
	}
	code = 503
	if _, err := e.scrape(srv.Client(), "go_goroutines"); err == nil {
		t.Error("a 503 from /metrics gave no error")
	}
	srv.Close()
	if _, err := e.scrape(srv.Client(), "go_goroutines"); err == nil {
		t.Error("a dead /metrics gave no error")
	}
}
