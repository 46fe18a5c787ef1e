package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// blackoutFigures are what a blackout run measured, per interval.
type blackoutFigures struct {
	interval      time.Duration
	phases        []string // per interval: before, dark, back
	healthy, dark []*tally // per interval: the controllers whose site stays up, and those whose site goes dark
	// Per interval: scrapes of a dark site's controllers that were in
	// flight when the site went dark or came back and read up as it was at
	// the answer, not as it was at the send (a request that reached the
	// site just after it went dark; a connect that completed once the site
	// answered SYNs again). Right answers, not counted against the run.
	excused    []int
	peakMemory int64  // bytes
	memoryFrom string // what peakMemory is: the cgroup's peak usage, or the RSS high-water mark
	oomKills   int64
	died       string // how the exporter ended, "" while it ran
}

// blackoutLimits are the pass criteria's figures.
type blackoutLimits struct {
	p99    time.Duration // of the healthy controllers' scrapes, in every interval
	memory int64         // peak, bytes
}

func (b *blackoutRun) figures(records []scrapeRecord, exp *exporterProc) *blackoutFigures {
	f := b.tallies(records)
	f.died = exp.died()
	if cgroup != nil {
		st := cgroup.stats()
		f.peakMemory, f.oomKills, f.memoryFrom = st.peak, st.oomKills, "the memory cgroup's peak usage"
	} else {
		f.peakMemory, f.memoryFrom = int64(exp.peakMiB()*(1<<20)), "the exporter's RSS high-water mark"
	}
	return f
}

// tallies counts the scrapes per interval and class.
func (b *blackoutRun) tallies(records []scrapeRecord) *blackoutFigures {
	n := b.before + b.dark + b.back
	f := &blackoutFigures{interval: b.interval}
	for i := range n {
		f.phases = append(f.phases, b.phaseOf(i))
		f.healthy, f.dark = append(f.healthy, &tally{}), append(f.dark, &tally{})
	}
	f.excused = make([]int, n)
	for _, r := range records {
		t := f.healthy[r.interval]
		if r.dark {
			t = f.dark[r.interval]
			o := classify(r.r, b.scrapeTimeout)
			if r.straddle && (o == upOne || o == upZero) && !slices.Contains(darkAllowed(f.phases[r.interval], r.interval+1-b.before-b.dark), o) {
				f.excused[r.interval]++
			}
		}
		t.add(r.r, b.scrapeTimeout)
	}
	return f
}

// darkAllowed is what a scrape of a dark site's controller may come to in
// an interval of the given phase; back is the interval's number after the
// return (1: the first). Before the dark and from the second interval
// after it, up; while dark, an answer that says it is down; in the first
// interval after the return either, but an answer.
func darkAllowed(phase string, back int) []outcome {
	switch {
	case phase == "dark":
		return []outcome{upZero}
	case phase == "back" && back == 1:
		return []outcome{upOne, upZero}
	}
	return []outcome{upOne}
}

// verdict returns every pass criterion the figures miss.
func (f *blackoutFigures) verdict(l blackoutLimits) []error {
	var errs []error
	if f.died != "" {
		errs = append(errs, fmt.Errorf("the exporter %s", f.died))
	}
	if f.oomKills > 0 {
		errs = append(errs, fmt.Errorf("the OOM killer killed %d processes in the exporter's cgroup", f.oomKills))
	}
	if f.peakMemory >= l.memory {
		errs = append(errs, fmt.Errorf("peak memory %.1f MiB (%s), the limit is %.0f MiB", mib(f.peakMemory), f.memoryFrom, mib(l.memory)))
	}
	back := 0
	for i, phase := range f.phases {
		if phase == "back" {
			back++
		}
		name := fmt.Sprintf("interval %d (%s)", i+1, phase)
		if h := f.healthy[i]; h.not(upOne) > 0 {
			errs = append(errs, fmt.Errorf("%s: %d of %d healthy scrapes lost (%s)", name, h.not(upOne), h.sent(), h.breakdown(upOne)))
		}
		if p := f.healthy[i].quantile(0.99); p >= l.p99 {
			errs = append(errs, fmt.Errorf("%s: p99 of the healthy scrapes %s, the limit is %s", name, p.Round(time.Millisecond), l.p99))
		}
		allowed := darkAllowed(phase, back)
		d := f.dark[i]
		if wrong := d.not(allowed...) - f.excused[i]; wrong > 0 {
			errs = append(errs, fmt.Errorf("%s: %d of %d scrapes of the dark sites' controllers not %s (%s)", name, wrong, d.sent(),
				describeAllowed(allowed), d.breakdown(allowed...)))
		}
	}
	return errs
}

func describeAllowed(allowed []outcome) string {
	var names []string
	for _, o := range allowed {
		names = append(names, "200 with bender_cc_up "+strings.TrimPrefix(outcomeNames[o], "up "))
	}
	return strings.Join(names, " or ")
}

// breakdown lists the outcomes other than allowed, with their counts.
func (t *tally) breakdown(allowed ...outcome) string {
	var parts []string
	for o := range numOutcomes {
		if t.n[o] > 0 && !slices.Contains(allowed, o) {
			parts = append(parts, fmt.Sprintf("%s %d", outcomeNames[o], t.n[o]))
		}
	}
	return strings.Join(parts, ", ")
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// print shows the figures: the scrapes per interval and class, the dark
// phase in sum, the exporter's resources and counters per interval, and the
// health polls per phase.
func (f *blackoutFigures) print(samples []blackoutSample, polls []health) {
	var rows, sum []classRow
	darkSum := [2]*tally{{}, {}}
	for i, phase := range f.phases {
		group := fmt.Sprintf("%d %s %.0f-%.0f", i+1, phase, (time.Duration(i) * f.interval).Seconds(), (time.Duration(i+1) * f.interval).Seconds())
		rows = append(rows, classRow{group, "healthy", f.healthy[i]}, classRow{group, "dark", f.dark[i]})
		if phase == "dark" {
			darkSum[0].merge(f.healthy[i])
			darkSum[1].merge(f.dark[i])
		}
	}
	printTallies("interval (s)", rows)
	for i, n := range f.excused {
		if n > 0 {
			fmt.Printf("interval %d: %d scrapes of the dark sites were in flight when they went dark or came back, and read up as it was at the answer (not counted against the run)\n", i+1, n)
		}
	}
	sum = []classRow{{"dark phase, all", "healthy", darkSum[0]}, {"dark phase, all", "dark", darkSum[1]}}
	printTallies("", sum)

	fmt.Printf("%-18s %10s %8s %6s %10s %9s  %s\n", "interval", "cgroup MiB", "RSS MiB", "fds", "goroutines", "in flight", "turned away in the interval (the exporter's counters)")
	var before map[string]float64
	for i, phase := range f.phases {
		from, to := time.Duration(i)*f.interval, time.Duration(i+1)*f.interval
		var cg int64
		var rss float64
		var fds, g, inFlight int
		last := before
		n := 0
		for _, s := range samples {
			if s.at < from || s.at >= to {
				continue
			}
			n++
			cg, rss, fds, g, inFlight = max(cg, s.cgroup), max(rss, s.rss), max(fds, s.fds), max(g, s.goroutines), max(inFlight, s.inFlight)
			if s.counters != nil {
				last = s.counters
			}
		}
		if n == 0 {
			fmt.Printf("%-18s no sample: the exporter was not running\n", fmt.Sprintf("%d %s", i+1, phase))
			continue
		}
		fmt.Printf("%-18s %10.1f %8.1f %6d %10d %9d  %s\n", fmt.Sprintf("%d %s", i+1, phase), mib(cg), rss, fds, g, inFlight, counterDeltas(before, last))
		before = last
	}
	for _, path := range []string{"/metrics", "/-/healthy", "/-/ready"} {
		line := fmt.Sprintf("%-10s polls:", path)
		for _, phase := range []string{"before", "dark", "back"} {
			var n, failed int
			var slowest time.Duration
			for _, h := range polls {
				if h.path != path || f.phaseAt(h.at) != phase {
					continue
				}
				n++
				slowest = max(slowest, h.took)
				if h.err != "" || h.took > time.Second {
					failed++
				}
			}
			line += fmt.Sprintf("  %s %d, %d failed or over 1 s, slowest %s;", phase, n, failed, slowest.Round(time.Millisecond))
		}
		fmt.Println(line)
	}
	fmt.Printf("peak memory %.1f MiB (%s), OOM kills %d\n", mib(f.peakMemory), f.memoryFrom, f.oomKills)
	if cgroup != nil {
		fmt.Printf("memory cgroup: %s\n", cgroup.stats())
	}
}

// phaseAt is the phase at time at from the start ("" after the last interval).
func (f *blackoutFigures) phaseAt(at time.Duration) string {
	i := int(at / f.interval)
	if at < 0 || i >= len(f.phases) {
		return ""
	}
	return f.phases[i]
}

func (t *tally) merge(o *tally) {
	for i := range t.n {
		t.n[i] += o.n[i]
	}
	t.lats = append(t.lats, o.lats...)
}

// counterDeltas lists the series that grew from before to after, by how much.
func counterDeltas(before, after map[string]float64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(after)) {
		if d := after[k] - before[k]; d > 0 {
			parts = append(parts, fmt.Sprintf("%s +%.0f", strings.TrimPrefix(k, "bender_cc_exporter_"), d))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
