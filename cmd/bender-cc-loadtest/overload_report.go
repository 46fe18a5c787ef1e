package main

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// overloadReport prints the overload run's figures per phase and returns
// every check that failed.
func (o *openLoop) overloadReport(exp *exporterProc, phases []phase, results [][]result, intended [][]time.Duration,
	polls []health, samples []sample, sendEnd time.Duration) error {
	var errs []error
	fmt.Printf("sent in %s (scheduled %s)\n", sendEnd.Round(time.Millisecond), phases[len(phases)-1].end)
	fmt.Printf("%-9s %8s %8s | %7s %7s %7s %8s %8s %7s | %8s %8s %8s\n", "phase", "sent", "/s", "up ok", "up 0", "503", "refused", "late", "other", "p50", "p99", "max")
	for pi, p := range phases {
		var ok, down, shed, refused, late, other, wrong int
		var afterwards []string
		var lats []time.Duration
		for i, r := range results[pi] {
			lats = append(lats, r.sent)
			switch {
			case r.sent > o.scrapeTimeout+time.Second:
				late++
			case r.code == http.StatusServiceUnavailable:
				shed++
			case r.ok && !r.up:
				down++
			case r.ok:
				ok++
			case r.code == 0:
				refused++
			default:
				other++
			}
			if r.wrongUp {
				wrong++
			}
			// After the overload, one interval to settle; then all must be right.
			if pi > 0 && !phases[pi].hang && phases[pi-1].hang && intended[pi][i] >= p.start+o.interval && (!r.ok || r.wrongUp) {
				afterwards = append(afterwards, fmt.Sprintf("%s: %s", (intended[pi][i]-p.start).Round(time.Millisecond), describeResult(r)))
			}
		}
		// Outside the overload every probe must be right; one in a
		// thousand may time out when the machine is busy with other work
		// (the normal phase saw a single 4.5 s timeout in 2 of 6 runs).
		if len(afterwards) > 0 {
			fmt.Printf("%s: %d probes wrong from one interval after the overload: %s\n", p.name, len(afterwards), strings.Join(afterwards[:min(5, len(afterwards))], ", "))
		}
		if 1000*len(afterwards) > len(results[pi]) {
			errs = append(errs, fmt.Errorf("%s: %d probes wrong from one interval after the overload, first %s", p.name, len(afterwards), afterwards[0]))
		}
		slices.Sort(lats)
		pct := func(q float64) time.Duration {
			if len(lats) == 0 {
				return 0
			}
			return lats[int(float64(len(lats)-1)*q)].Round(time.Millisecond)
		}
		fmt.Printf("%-9s %8d %8.0f | %7d %7d %7d %8d %8d %7d | %8s %8s %8s\n", p.name, len(results[pi]), float64(len(results[pi]))/(p.end-p.start).Seconds(),
			ok, down, shed, refused, late, other, pct(0.5), pct(0.99), pct(1))
		// A probe answered after the scrape timeout is one Prometheus has
		// given up on; a few in a thousand happen when the load generator
		// itself waits for CPU.
		if 1000*late > len(results[pi]) {
			errs = append(errs, fmt.Errorf("%s: %d probes answered after the scrape timeout (%s)", p.name, late, o.scrapeTimeout))
		}
		if other > 0 {
			errs = append(errs, fmt.Errorf("%s: %d probes answered neither 200 with bender_cc_up nor 503", p.name, other))
		}
		if pi == 0 && 1000*(wrong+shed+refused) > len(results[pi]) {
			errs = append(errs, fmt.Errorf("%s: %d probes not answered right before the overload", p.name, wrong+shed+refused))
		}
	}
	// The same probes, the healthy and the hanging controllers apart: 503s
	// of healthy controllers are scrapes the fleet loses to the hanging ones.
	var rows []classRow
	for pi, p := range phases {
		rows = append(rows, splitByClass(p.name, "hanging", results[pi], o.scrapeTimeout+time.Second)...)
	}
	printTallies("phase", rows)
	if len(errs) > 10 {
		errs = append(errs[:10], fmt.Errorf("and %d more", len(errs)-10))
	}

	// Health and /metrics: a poll fails on an error or after more than 1s.
	// The run fails on 3 failures in a row (the kubelet's failureThreshold:
	// what would restart the pod) or on more than 10 % of a phase's polls;
	// single slow polls happen on a shared machine without any overload.
	slices.SortFunc(polls, func(a, b health) int { return int(a.at - b.at) })
	for _, path := range []string{"/-/healthy", "/-/ready", "/metrics"} {
		for _, p := range phases {
			var n, failed, run, worstRun int
			var worst time.Duration
			var bad []string
			for _, h := range polls {
				if h.path != path || h.at < p.start || h.at >= p.end {
					continue
				}
				n++
				worst = max(worst, h.took)
				if h.err == "" && h.took <= time.Second {
					run = 0
					continue
				}
				failed++
				run++
				worstRun = max(worstRun, run)
				if len(bad) < 12 {
					what := h.took.Round(10 * time.Millisecond).String()
					if h.err != "" {
						what += " " + strings.Fields(h.err)[len(strings.Fields(h.err))-1]
					}
					bad = append(bad, fmt.Sprintf("%s:%s", h.at.Round(100*time.Millisecond), what))
				}
			}
			fmt.Printf("%-10s %-9s %4d polls, slowest %7s, %d failed or slower than 1s (at most %d in a row) %s\n", path, p.name, n, worst.Round(time.Millisecond), failed, worstRun, strings.Join(bad, ", "))
			if worstRun >= 3 || 10*failed > n {
				errs = append(errs, fmt.Errorf("%s during %s: %d of %d polls failed or took more than 1s, %d in a row", path, p.name, failed, n, worstRun))
			}
		}
	}

	// Resources: a plateau through the overload, not a pile-up.
	fmt.Printf("%-9s %12s %10s %12s\n", "phase", "peak RSS MiB", "peak fds", "peak gorout.")
	var over []sample
	for _, p := range phases {
		var rss float64
		var fds, g int
		for _, s := range samples {
			if s.at >= p.start && s.at < p.end {
				rss, fds, g = max(rss, s.rss), max(fds, s.fds), max(g, s.goroutines)
				if p.hang {
					over = append(over, s)
				}
			}
		}
		fmt.Printf("%-9s %12.1f %10d %12d\n", p.name, rss, fds, g)
	}
	if len(over) >= 10 {
		// The first half of the overload fills the bounds; the second must not go past them.
		half := len(over) / 2
		if err := plateau(over[half/2:half], over[half:]); err != nil {
			errs = append(errs, fmt.Errorf("overload: %w", err))
		}
	}
	fmt.Printf("exporter RSS high-water mark %.1f MiB; every 2 s (time RSS fds goroutines):", exp.peakMiB())
	for i, s := range samples {
		if i%4 == 0 {
			fmt.Printf(" %s %.0f %d %d;", s.at.Round(time.Second), s.rss, s.fds, s.goroutines)
		}
	}
	fmt.Println()

	if d := exp.died(); d != "" {
		errs = append([]error{fmt.Errorf("the exporter %s", d)}, errs...)
	}
	if cgroup != nil {
		st := cgroup.stats()
		fmt.Printf("memory cgroup: %s\n", st)
		if st.oomKills > 0 {
			errs = append([]error{fmt.Errorf("the OOM killer killed %d processes in the exporter's cgroup", st.oomKills)}, errs...)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("FAILED: %w", err)
	}
	fmt.Println("PASS: no OOM kill, health and /metrics answering within 1s (never 3 failures in a row), probes answered within the scrape timeout, resources bounded, normal again one interval after the overload")
	return nil
}

// plateau fails when RSS, fds or goroutines in later are well above their
// peak in earlier (half as much again: a pile-up grows tenfold).
func plateau(earlier, later []sample) error {
	var errs []error
	for _, c := range resources {
		a, b := 0.0, 0.0
		for _, s := range earlier {
			a = max(a, c.f(s))
		}
		for _, s := range later {
			b = max(b, c.f(s))
		}
		if b > 1.5*a+c.slack {
			errs = append(errs, fmt.Errorf("%s grew from %.0f to %.0f", c.name, a, b))
		}
	}
	return errors.Join(errs...)
}

func describeResult(r result) string {
	switch {
	case r.failure != "":
		return firstWords(r.failure)
	case r.wrongUp:
		return "wrong bender_cc_up"
	}
	return "ok"
}
