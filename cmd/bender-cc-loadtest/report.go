package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

func (o *openLoop) report(results []result, samples []sample, end sample, wall, sendEnd time.Duration, floor string, reloads, badReloads, reloadMismatch int) error {
	var lats []time.Duration
	var failed, wrongUp int
	failures := map[string]int{}
	for _, r := range results {
		lats = append(lats, r.lat)
		if !r.ok {
			failed++
			failures[firstWords(r.failure)]++
		}
		if r.wrongUp {
			wrongUp++
		}
	}
	slices.Sort(lats)
	pct := func(p float64) time.Duration { return lats[int(float64(len(lats)-1)*p)].Round(100 * time.Microsecond) }
	cpuPerProbe := time.Duration(end.cpu / float64(len(results)) * 1e9)
	fmt.Printf("sent %d probes in %s (%.0f/s achieved), all answered after %s\n", len(results), sendEnd.Round(time.Millisecond),
		float64(len(results))/sendEnd.Seconds(), wall.Round(time.Millisecond))
	fmt.Printf("exporter CPU: %s per probe, %.1f %% of one CPU; floor (simulator alone, CPU per raw request at this rate): %s\n",
		cpuPerProbe.Round(time.Microsecond), 100*end.cpu/wall.Seconds(), floor)
	fmt.Printf("latency from the intended send time: p50 %s, p90 %s, p99 %s, max %s\n", pct(0.5), pct(0.9), pct(0.99), lats[len(lats)-1].Round(time.Millisecond))
	fmt.Printf("answers: %d failed (not HTTP 200 with bender_cc_up), %d with a wrong bender_cc_up; reloads: %d (%d invalid), %d with a wrong reload metric\n",
		failed, wrongUp, reloads, badReloads, reloadMismatch)
	for f, n := range failures {
		fmt.Printf("  %d × %s\n", n, f)
	}
	if slices.ContainsFunc(results, func(r result) bool { return !r.wantUp }) {
		// The controllers that should read up and those that hang or fail, apart.
		printTallies("", splitByClass("all probes", "down", results, o.scrapeTimeout+time.Second))
	}
	first := samples[0]
	peakRSS, peakFDs, peakG := 0.0, 0, 0
	for _, s := range samples {
		peakRSS, peakFDs, peakG = max(peakRSS, s.rss), max(peakFDs, s.fds), max(peakG, s.goroutines)
	}
	fmt.Printf("exporter resources: RSS %.1f → %.1f MiB (peak %.1f, high-water %.1f); fds %d → %d (peak %d); goroutines %d → %d (peak %d)\n",
		first.rss, end.rss, peakRSS, o.peak, first.fds, end.fds, peakFDs, first.goroutines, end.goroutines, peakG)
	fmt.Printf("%8s %9s %6s %11s %12s\n", "time", "RSS MiB", "fds", "goroutines", "CPU %")
	prev := sample{}
	for _, s := range samples {
		cpuPct := 0.0
		if dt := (s.at - prev.at).Seconds(); dt > 0 {
			cpuPct = 100 * (s.cpu - prev.cpu) / dt
		}
		fmt.Printf("%8s %9.1f %6d %11d %12.1f\n", s.at.Round(time.Second), s.rss, s.fds, s.goroutines, cpuPct)
		prev = s
	}

	var errs []error
	if failed > 0 {
		errs = append(errs, fmt.Errorf("%d probes failed", failed))
	}
	if wrongUp > 0 {
		errs = append(errs, fmt.Errorf("%d probes with a wrong bender_cc_up", wrongUp))
	}
	if reloadMismatch > 0 {
		errs = append(errs, fmt.Errorf("%d reloads with a wrong last_reload_successful", reloadMismatch))
	}
	if end.probes != int64(len(results)) {
		errs = append(errs, fmt.Errorf("the exporter counted %d probes in bender_cc_exporter_probes_total, %d were sent", end.probes, len(results)))
	}
	// Connections to controllers build up over the first scrape intervals;
	// growth means something only once every target has been probed a few times.
	if interval := time.Duration(float64(o.controllers) / o.rate * float64(time.Second)); o.duration >= 3*interval {
		if err := growth(samples); err != nil {
			errs = append(errs, err)
		}
	} else {
		fmt.Printf("growth not judged: the run is shorter than 3 scrape intervals (%s)\n", 3*interval)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("FAILED: %w", err)
	}
	fmt.Println("PASS: every probe answered 200 with the right bender_cc_up, reloads as expected, no growth")
	return nil
}

// growth fails when RSS, fds or goroutines at the end are well above where
// they were once the run had settled (after its first fifth): memory held
// per probe or per reload, leaked connections or goroutines.
func growth(samples []sample) error {
	if len(samples) < 10 {
		return nil
	}
	n := len(samples)
	settled, last := samples[n/5:2*n/5], samples[4*n/5:]
	peak := func(s []sample, f func(sample) float64) float64 {
		m := 0.0
		for _, x := range s {
			m = max(m, f(x))
		}
		return m
	}
	var errs []error
	for _, c := range resources {
		a, b := peak(settled, c.f), peak(last, c.f)
		if b > 1.25*a+c.slack {
			errs = append(errs, fmt.Errorf("%s grew from %.0f to %.0f", c.name, a, b))
		}
	}
	return errors.Join(errs...)
}

// writeConfig writes the exporter's config for reload n: a valid one names
// n in a comment and a module timeout; an invalid one has a typo'd field.
// firstWords is a failure without its URL, so that failures group by cause.
func firstWords(s string) string {
	if i := strings.Index(s, `": `); strings.HasPrefix(s, "Get \"") && i > 0 {
		s = s[i+3:]
	}
	if len(s) > 100 {
		s = s[:100]
	}
	return s
}

// resources are the exporter's measures a run checks for growth, with the
// slack a measure may grow by besides its share.
var resources = []struct {
	name  string
	f     func(sample) float64
	slack float64
}{
	{"RSS (MiB)", func(s sample) float64 { return s.rss }, 8},
	{"open fds", func(s sample) float64 { return float64(s.fds) }, 64},
	{"goroutines", func(s sample) float64 { return float64(s.goroutines) }, 128},
}
