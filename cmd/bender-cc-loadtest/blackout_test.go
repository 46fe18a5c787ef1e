package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSlot: every target once per interval, the scrapes spread evenly over
// it (about 333/s for 5,000 targets every 15 s), each interval starting on
// its boundary and each target at the same offset in every interval.
func TestSlot(t *testing.T) {
	const n, interval = 5000, 15 * time.Second
	seen := map[[2]int]bool{}
	offset := map[int]time.Duration{}
	var prev time.Duration
	for j := range 3 * n {
		target, iv, at := slot(j, n, interval)
		if seen[[2]int{target, iv}] {
			t.Fatalf("target %d twice in interval %d", target, iv)
		}
		seen[[2]int{target, iv}] = true
		if at < time.Duration(iv)*interval || at >= time.Duration(iv+1)*interval {
			t.Fatalf("scrape %d at %s, outside interval %d", j, at, iv)
		}
		if o, ok := offset[target]; ok && at-time.Duration(iv)*interval != o {
			t.Fatalf("target %d at offset %s in interval %d, %s before", target, at-time.Duration(iv)*interval, iv, o)
		}
		offset[target] = at - time.Duration(iv)*interval
		if gap := at - prev; j > 0 && (gap < 2999*time.Microsecond || gap > 3001*time.Microsecond) {
			t.Fatalf("gap %s before scrape %d, want 3 ms (333/s)", gap, j)
		}
		prev = at
	}
	if len(seen) != 3*n {
		t.Errorf("%d scrapes of distinct targets and intervals, want %d", len(seen), 3*n)
	}
	if _, iv, at := slot(n, n, interval); iv != 1 || at != interval {
		t.Errorf("first scrape of the second interval: interval %d at %s", iv, at)
	}
}

// figuresOf builds figures from literal counts: per interval, the healthy
// and the dark class's outcomes (in outcomeNames' order), all answered
// after lat.
func figuresOf(phases []string, healthy, dark [][numOutcomes]int, lat time.Duration) *blackoutFigures {
	f := &blackoutFigures{interval: 15 * time.Second, phases: phases, peakMemory: 70 << 20, excused: make([]int, len(phases))}
	fill := func(c [numOutcomes]int, lat time.Duration) *tally {
		t := &tally{n: c}
		for range t.n[upOne] + t.n[upZero] + t.n[refused503] + t.n[noAnswer] + t.n[otherCode] + t.n[late] {
			t.lats = append(t.lats, lat)
		}
		return t
	}
	for i := range phases {
		f.healthy = append(f.healthy, fill(healthy[i], lat))
		f.dark = append(f.dark, fill(dark[i], 9500*time.Millisecond))
	}
	return f
}

// TestBlackoutVerdict: the pass criteria, each on its own, on literal
// figures: today's failure (the table) and what passing takes.
func TestBlackoutVerdict(t *testing.T) {
	phases := []string{"before", "dark", "dark", "dark", "back", "back"}
	up := func(n int) [numOutcomes]int { return [numOutcomes]int{upOne: n} }
	down := func(n int) [numOutcomes]int { return [numOutcomes]int{upZero: n} }
	good := func() ([][numOutcomes]int, [][numOutcomes]int) {
		return [][numOutcomes]int{up(3500), up(3500), up(3500), up(3500), up(3500), up(3500)},
			[][numOutcomes]int{up(1500), down(1500), down(1500), down(1500), {upOne: 1000, upZero: 500}, up(1500)}
	}
	limits := blackoutLimits{p99: time.Second, memory: 100 << 20}
	for _, tt := range []struct {
		name  string
		edit  func(f *blackoutFigures)
		wants []string // in the errors, "" for none
	}{
		{"a dark site costs only itself", func(*blackoutFigures) {}, nil},
		{"healthy refused (main today)", func(f *blackoutFigures) {
			f.healthy[2] = &tally{n: [numOutcomes]int{upOne: 1500, refused503: 2000}, lats: make([]time.Duration, 3500)}
		}, []string{"interval 3 (dark): 2000 of 3500 healthy scrapes lost (503 2000)"}},
		{"dark refused", func(f *blackoutFigures) {
			f.dark[1] = &tally{n: [numOutcomes]int{upZero: 920, refused503: 580}, lats: make([]time.Duration, 1500)}
		}, []string{"interval 2 (dark): 580 of 1500 scrapes of the dark sites' controllers not 200 with bender_cc_up 0 (503 580)"}},
		{"dark answered late", func(f *blackoutFigures) { f.dark[3].n[upZero]--; f.dark[3].n[late]++ }, []string{"interval 4 (dark): 1 of 1500", "late 1"}},
		{"dark up while dark", func(f *blackoutFigures) { f.dark[3].n[upZero]--; f.dark[3].n[upOne]++ }, []string{"interval 4 (dark): 1 of 1500", "up 1 1"}},
		{"dark up once the site was back (in flight at the return)", func(f *blackoutFigures) {
			f.dark[3].n[upZero] -= 84
			f.dark[3].n[upOne] += 84
			f.excused[3] = 84
		}, nil},
		{"down once the site went dark (in flight at the dark)", func(f *blackoutFigures) {
			f.dark[0].n[upOne]--
			f.dark[0].n[upZero]++
			f.excused[0] = 1
		}, nil},
		{"in flight at the return, but refused", func(f *blackoutFigures) {
			f.dark[3].n[upZero] -= 2
			f.dark[3].n[upOne]++
			f.dark[3].n[refused503]++
			f.excused[3] = 1
		}, []string{"interval 4 (dark): 1 of 1500", "503 1"}},
		{"refused in the first interval back", func(f *blackoutFigures) { f.dark[4].n[upZero]--; f.dark[4].n[refused503]++ }, []string{"interval 5 (back): 1 of 1500", "503 1"}},
		{"not recovered in the second interval", func(f *blackoutFigures) { f.dark[5].n[upOne]--; f.dark[5].n[upZero]++ }, []string{"interval 6 (back): 1 of 1500", "up 0 1"}},
		{"healthy slow", func(f *blackoutFigures) {
			for i := range 36 {
				f.healthy[1].lats[i] = 1200 * time.Millisecond
			}
		}, []string{"interval 2 (dark): p99 of the healthy scrapes 1.2s"}},
		{"healthy reset before the dark", func(f *blackoutFigures) { f.healthy[0].n[upOne]--; f.healthy[0].n[noAnswer]++ }, []string{"interval 1 (before): 1 of 3500 healthy scrapes lost (reset 1)"}},
		{"memory", func(f *blackoutFigures) { f.peakMemory = 100 << 20 }, []string{"peak memory 100.0 MiB"}},
		{"OOM kill", func(f *blackoutFigures) { f.oomKills = 1 }, []string{"OOM killer killed 1"}},
		{"died", func(f *blackoutFigures) { f.died = "exited after 7s: signal: killed" }, []string{"the exporter exited after 7s"}},
	} {
		h, d := good()
		f := figuresOf(phases, h, d, 25*time.Millisecond)
		tt.edit(f)
		errs := f.verdict(limits)
		var got []string
		for _, e := range errs {
			got = append(got, e.Error())
		}
		all := strings.Join(got, "\n")
		if len(tt.wants) == 0 && len(errs) > 0 {
			t.Errorf("%s: failed: %s", tt.name, all)
		}
		if len(tt.wants) > 0 && len(errs) != 1 {
			t.Errorf("%s: %d errors, want 1: %s", tt.name, len(errs), all)
		}
		for _, w := range tt.wants {
			if !strings.Contains(all, w) {
				t.Errorf("%s: %q not in %q", tt.name, w, all)
			}
		}
	}
}

// TestTallies: scrapes land in their interval and class; a dark site's
// scrape in flight when the site went dark or came back is excused for
// reading up as it was at the answer, and for nothing else.
func TestTallies(t *testing.T) {
	b := &blackoutRun{interval: 15 * time.Second, scrapeTimeout: 10 * time.Second, before: 1, dark: 3, back: 2}
	up := result{ok: true, up: true, code: 200, sent: 20 * time.Millisecond}
	down := result{ok: true, code: 200, sent: 9500 * time.Millisecond}
	shed := result{code: 503, sent: time.Millisecond}
	f := b.tallies([]scrapeRecord{
		{interval: 0, r: up},
		{interval: 0, dark: true, r: up},
		{interval: 0, dark: true, straddle: true, r: down}, // reached the site just after it went dark
		{interval: 0, dark: true, r: down},                 // down before the dark: wrong
		{interval: 1, r: shed},
		{interval: 3, dark: true, straddle: true, r: up},   // connected once the site was back
		{interval: 3, dark: true, straddle: true, r: shed}, // refused: no excuse
		{interval: 4, dark: true, straddle: true, r: down}, // allowed anyway in the first interval back
	})
	if f.healthy[0].n[upOne] != 1 || f.healthy[1].n[refused503] != 1 || f.dark[0].n[upOne] != 1 || f.dark[0].n[upZero] != 2 {
		t.Errorf("tallies: healthy %v %v, dark %v", f.healthy[0].n, f.healthy[1].n, f.dark[0].n)
	}
	if want := []int{1, 0, 0, 1, 0, 0}; !slices.Equal(f.excused, want) {
		t.Errorf("excused %v, want %v", f.excused, want)
	}
	f.peakMemory = 50 << 20
	var got []string
	for _, e := range f.verdict(blackoutLimits{p99: time.Second, memory: 100 << 20}) {
		got = append(got, e.Error())
	}
	want := []string{
		"interval 1 (before): 1 of 3 scrapes of the dark sites' controllers not 200 with bender_cc_up 1 (up 0 2)",
		"interval 2 (dark): 1 of 1 healthy scrapes lost (503 1)",
		"interval 4 (dark): 1 of 2 scrapes of the dark sites' controllers not 200 with bender_cc_up 0 (up 1 1, 503 1)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("verdict:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCounterDeltas: what the exporter turned away in an interval, from
// its counters; a counter that did not grow is left out.
func TestCounterDeltas(t *testing.T) {
	before := map[string]float64{`bender_cc_exporter_probe_requests_refused_total{reason="overloaded"}`: 100}
	after := map[string]float64{
		`bender_cc_exporter_probe_requests_refused_total{reason="overloaded"}`:  1851,
		`bender_cc_exporter_probe_requests_refused_total{reason="not_allowed"}`: 0,
		`bender_cc_exporter_http_connections_shed_total{reason="idle"}`:         3,
	}
	want := `http_connections_shed_total{reason="idle"} +3, probe_requests_refused_total{reason="overloaded"} +1751`
	if got := counterDeltas(before, after); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := counterDeltas(after, after); got != "none" {
		t.Errorf("no growth: %s", got)
	}
}

func TestIsSheddingCounter(t *testing.T) {
	for name, want := range map[string]bool{
		"bender_cc_exporter_probe_requests_refused_total":  true,
		"bender_cc_exporter_http_connections_shed_total":   true,
		"bender_cc_exporter_probes_answered_early_total":   true,
		"bender_cc_exporter_probes_total":                  false,
		"bender_cc_exporter_http_connections":              false,
		"bender_cc_exporter_probe_requests_refused_other":  false,
		"other_exporter_probe_requests_refused_total":      false,
		"bender_cc_exporter_circuit_breaker_opened_total":  true,
		"bender_cc_exporter_probes_rejected_by_site_total": true,
	} {
		if got := isSheddingCounter(name); got != want {
			t.Errorf("%s: %v", name, got)
		}
	}
}
