package probe

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestEachCallerItsOwnDeadline: concurrent probes of one slow controller
// share its request, yet each waits at most its own timeout. A short caller
// (a 1.1 s scrape timeout, 0.6 s after the offset) that comes first does
// not fail a normal probe that joins it (its request ends at the short
// deadline, and the normal one asks again on its own time), and one that
// joins a normal probe does not wait for it.
func TestEachCallerItsOwnDeadline(t *testing.T) {
	fixture := serveFixture(t, "fw5.22.1_mennekes.txt")
	ctl := newCountingServer(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(1500 * time.Millisecond): // longer than the short caller waits
			fixture(w, r)
		case <-r.Context().Done():
		}
	})
	short := http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"1.1"}}
	h, _ := newHandler(t, "") // the default module: 10 s
	type outcome struct {
		out  string
		done time.Time
	}
	run := func(first, second http.Header) (a, b outcome) {
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, a.out = probe(t, h, "target="+ctl.URL, first)
			a.done = time.Now()
		}()
		time.Sleep(100 * time.Millisecond) // the second joins the first's request
		go func() {
			defer wg.Done()
			_, b.out = probe(t, h, "target="+ctl.URL, second)
			b.done = time.Now()
		}()
		wg.Wait()
		return a, b
	}

	s, l := run(short, nil)
	if !strings.Contains(l.out, "bender_cc_up 1\n") {
		t.Errorf("a normal probe joining a short one fails with it:\n%s", l.out)
	}
	if !strings.Contains(s.out, "bender_cc_up 0\n") || !s.done.Before(l.done) {
		t.Errorf("the short probe that came first did not give up at its own deadline:\n%s", s.out)
	}

	l, s = run(nil, short)
	if !strings.Contains(l.out, "bender_cc_up 1\n") {
		t.Errorf("a normal probe that a short one joined:\n%s", l.out)
	}
	if !strings.Contains(s.out, "bender_cc_up 0\n") || !s.done.Before(l.done) {
		t.Errorf("a short probe joining a normal one waited for it:\n%s", s.out)
	}

	if n := ctl.reqs.Load(); n != 3 {
		t.Errorf("controller saw %d requests, want 3: the short one's, the normal one's after it, one for the second pair", n)
	}
	for result, want := range map[string]float64{ResultSuccess: 2, ResultTimeout: 2} {
		if got := testutil.ToFloat64(h.Metrics.probes.WithLabelValues("default", result)); got != want {
			t.Errorf("probes_total{result=%q} = %g, want %g", result, got, want)
		}
	}
	if got := testutil.ToFloat64(h.Metrics.shared.WithLabelValues("default")); got != 2 {
		t.Errorf("probes_shared_total = %g, want 2 (the second of each pair)", got)
	}
}

// TestAbandonedRequestIsCancelled: when every caller has given up, the
// shared request ends too, instead of running on for the module's timeout.
func TestAbandonedRequestIsCancelled(t *testing.T) {
	cancelled := make(chan struct{}, 1)
	ctl := newCountingServer(t, "127.0.0.1", func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			cancelled <- struct{}{}
		case <-time.After(20 * time.Second):
		}
	})
	h, _ := newHandler(t, "modules: {default: {timeout: 30s}}")
	_, out := probe(t, h, "target="+ctl.URL, http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"1"}})
	if !strings.Contains(out, "bender_cc_up 0\n") {
		t.Fatalf("a hanging controller:\n%s", out)
	}
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second): // generous; the request would run 30 s
		t.Error("the request went on after its only caller gave up")
	}
}
