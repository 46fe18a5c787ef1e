package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// series is one series of the generated data: its value at t (ms), if it
// has one then, and whether it is recorded once an hour (at whole hours)
// or every step; it has samples from from (ms) on.
type series struct {
	l      labels.Labels
	ref    storage.SeriesRef
	v      func(c int, t int64) (float64, bool)
	hourly bool
	from   int64
	c      int // the controller, of the instance label
}

// adder collects the series to write.
type adder struct{ all *[]*series }

func (a adder) minutes(from int64, v func(c int, t int64) (float64, bool), ls ...string) {
	*a.all = append(*a.all, &series{l: labels.FromStrings(ls...), v: v, from: from})
}

func (a adder) hours(from int64, v func(c int, t int64) (float64, bool), ls ...string) {
	*a.all = append(*a.all, &series{l: labels.FromStrings(ls...), v: v, hourly: true, from: from})
}

// always makes a value function that has a value at every step.
func always(v func(c int, t int64) float64) func(int, int64) (float64, bool) {
	return func(c int, t int64) (float64, bool) { return v(c, t), true }
}

const cycle = 40 * 60 // s: idle 10 min, connected 5, charging 20, finishing 5

func phase(c int, t int64) int {
	s := (t/1000 + int64(c)*97) % cycle
	switch {
	case s < 600:
		return 0
	case s < 900:
		return 1
	case s < 2100:
		return 2
	}
	return 3
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func faulted(c int) bool { return c%97 == 0 }
func down(c int) bool    { return c%101 == 0 }

// generate writes the day (begin to end) as 2-hour blocks: per controller
// the series the fleet dashboard reads, and per site the recording rules'
// series; before the day, history of the hourly recording rules' series
// alone (days of it), in 2-hour blocks compacted as Prometheus compacts
// them, so that a 30-day query reads the chunks it reads in production.
func generate(dir string, n, perSite int, begin, end time.Time, step time.Duration, history int) (samples, nseries int) {
	var all []*series
	a := adder{&all}
	add := func(v func(c int, t int64) float64, ls ...string) { a.minutes(begin.UnixMilli(), always(v), ls...) }
	connStates := []string{"no_vehicle_connected", "vehicle_connected_type2", "vehicle_charging_type2", "vehicle_connected_schuko", "vehicle_charging_schuko", "vehicle_connector_error"}
	ocppStates := []string{"available", "occupied", "reserved", "unavailable", "faulted", "preparing", "charging", "suspendedevse", "suspendedev", "finishing"}
	backendStates := []string{"not_connected", "connecting", "connecting_proxy_ok", "connected", "not_reacheable", "rejected", "pending"}
	for c := 0; c < n; c++ {
		base := []string{"job", "bender_cc", "instance", fmt.Sprintf("cc-%05d", c), "site", fmt.Sprintf("site-%03d", c/perSite)}
		with := func(ls ...string) []string { return append(append([]string{}, base...), ls...) }
		add(func(c int, t int64) float64 { return b2f(!down(c)) }, with("__name__", "up")...)
		add(func(c int, t int64) float64 { return b2f(!down(c)) }, with("__name__", "bender_cc_up")...)
		if down(c) {
			continue // no metrics from a controller that cannot be read
		}
		for i, s := range connStates {
			want := []int{0, 1, 2, 1}
			add(func(c int, t int64) float64 {
				if faulted(c) {
					return b2f(i == 5)
				}
				return b2f(i == want[phase(c, t)])
			}, with("__name__", "bender_cc_connection_state", "state", s)...)
		}
		for i, s := range ocppStates {
			want := []int{0, 5, 6, 9}
			add(func(c int, t int64) float64 {
				if faulted(c) {
					return b2f(i == 4)
				}
				return b2f(i == want[phase(c, t)])
			}, with("__name__", "bender_cc_ocpp_state", "state", s)...)
			add(func(c int, t int64) float64 { return b2f(i == 0) }, with("__name__", "bender_cc_slave_ocpp_state", "state", s)...)
		}
		for i, s := range backendStates {
			add(func(c int, t int64) float64 { return b2f(i == 3) }, with("__name__", "bender_cc_backend_connection_state", "state", s)...)
		}
		for _, s := range []string{"okay", "triggered"} {
			add(func(c int, t int64) float64 { return b2f((s == "triggered") == (c%499 == 0)) }, with("__name__", "bender_cc_rcmb_state", "state", s)...)
		}
		for _, s := range []string{"disable", "okay", "triggered"} {
			add(func(c int, t int64) float64 { return b2f(s == "disable") }, with("__name__", "bender_cc_rcd_state", "state", s)...)
			add(func(c int, t int64) float64 { return b2f(s == "okay") }, with("__name__", "bender_cc_mcb_state", "connector", "type2", "state", s)...)
		}
		add(func(c int, t int64) float64 { return b2f(phase(c, t) == 2) * 11000 }, with("__name__", "bender_cc_power_watts")...)
		add(func(c int, t int64) float64 { return energy(c, t, phase) }, with("__name__", "bender_cc_energy_joules_total")...)
		add(func(c int, t int64) float64 { return float64(1000 + (t/1000+int64(c)*97-900)/cycle) }, with("__name__", "bender_cc_contactor_cycles_total", "connector", "type2")...)
		add(func(c int, t int64) float64 { return 20 + float64(phase(c, t)) }, with("__name__", "bender_cc_ambient_temperature_celsius")...)
		add(func(c int, t int64) float64 { return 0.05 }, with("__name__", "bender_cc_scrape_duration_seconds")...)
		add(func(c int, t int64) float64 { return b2f(faulted(c)) }, with("__name__", "bender_cc_errors")...)
		if faulted(c) {
			add(func(c int, t int64) float64 { return 1 }, with("__name__", "bender_cc_error", "error", "plug_locking_failed")...)
		}
		add(func(c int, t int64) float64 { return 1 }, with("__name__", "bender_cc_info", "vendor", "ebee", "model", "CC613_2M3PR", "firmware_version", []string{"5.22.1-13295", "5.33.2-19412"}[c%2])...)
		availabilitySeries(a, base, c, begin)
	}
	add(func(int, int64) float64 { return 0.99 }, "__name__", "bender_cc:connector_availability:objective")
	// The recording rules, per site: every minute, and the hourly group every hour.
	sites := (n + perSite - 1) / perSite
	for s := 0; s < sites; s++ {
		lo, hi := s*perSite, min(n, (s+1)*perSite)
		base := []string{"job", "bender_cc", "site", fmt.Sprintf("site-%03d", s)}
		with := func(ls ...string) []string { return append(append([]string{}, base...), ls...) }
		sum := func(f func(c int, t int64) float64) func(int, int64) float64 {
			return func(_ int, t int64) float64 {
				v := 0.0
				for c := lo; c < hi; c++ {
					if !down(c) {
						v += f(c, t)
					}
				}
				return v
			}
		}
		add(sum(func(c int, t int64) float64 { return b2f(phase(c, t) == 2) * 11000 }), with("__name__", "job_site:bender_cc_power_watts:sum")...)
		add(sum(func(c int, t int64) float64 { return b2f(phase(c, t) == 2) * 11000 }), with("__name__", "job_site:bender_cc_energy_joules:rate5m")...)
		for i, st := range connStates {
			want := []int{0, 1, 2, 1}
			add(sum(func(c int, t int64) float64 { return b2f(i == want[phase(c, t)]) }), with("__name__", "job_site_state:bender_cc_connection_state:count", "state", st)...)
		}
		for i, st := range ocppStates {
			want := []int{0, 5, 6, 9}
			add(sum(func(c int, t int64) float64 { return b2f(i == want[phase(c, t)]) }), with("__name__", "job_site_state:bender_cc_ocpp_state:count", "state", st)...)
		}
	}
	for s := 0; s < sites; s++ {
		lo, hi := s*perSite, min(n, (s+1)*perSite)
		base := []string{"job", "bender_cc", "site", fmt.Sprintf("site-%03d", s)}
		siteAvailability(a, base, lo, hi)
		a.hours(0, always(func(_ int, t int64) float64 {
			v := 0.0
			for c := lo; c < hi; c++ {
				v += energy(c, t, phase) - energy(c, t-3600e3, phase)
			}
			return v
		}), append(base, "__name__", "job_site:bender_cc_energy_joules:increase1h")...)
		a.hours(0, always(func(_ int, t int64) float64 { return float64((hi - lo) * 3600 / cycle) }), append(base, "__name__", "job_site:bender_cc_contactor_cycles:increase1h")...)
	}

	for _, s := range all {
		s.c = controllerOf(s.l)
	}
	samples = write(dir, all, begin.Add(-time.Duration(history)*24*time.Hour), begin, end, step)
	return samples, len(all)
}

// write writes the series from start to end as 2-hour blocks, before
// begin (the history) at whole hours only, then compacts the blocks as
// Prometheus would (blocks of up to a tenth of the retention).
func write(dir string, all []*series, start, begin, end time.Time, step time.Duration) (samples int) {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for w := start; w.Before(end); w = w.Add(2 * time.Hour) {
		bw, err := tsdb.NewBlockWriter(logger, dir, (2 * time.Hour).Milliseconds())
		if err != nil {
			log.Fatal(err)
		}
		for _, s := range all {
			s.ref = 0
		}
		app := bw.Appender(ctx)
		pending := 0
		dt := step
		if w.Before(begin) {
			dt = time.Hour
		}
		for t := w; t.Before(w.Add(2 * time.Hour)); t = t.Add(dt) {
			ms := t.UnixMilli()
			for _, s := range all {
				if ms < s.from || (s.hourly && t.Minute() != 0) {
					continue
				}
				v, ok := s.v(s.c, ms)
				if !ok {
					continue
				}
				ref, err := app.Append(s.ref, s.l, ms, v)
				if err != nil {
					log.Fatalf("%s: %v", s.l, err)
				}
				s.ref = ref
				samples++
				if pending++; pending > 500000 {
					if err := app.Commit(); err != nil {
						log.Fatal(err)
					}
					app, pending = bw.Appender(ctx), 0
				}
			}
		}
		if err := app.Commit(); err != nil {
			log.Fatal(err)
		}
		if _, err := bw.Flush(ctx); err != nil {
			log.Fatal(err)
		}
		_ = bw.Close()
		if w.Hour()%24 == 0 {
			log.Printf("blocks from %s written", w.Format(time.RFC3339))
		}
	}
	opts := tsdb.DefaultOptions()
	opts.RetentionDuration = retention.Milliseconds()
	opts.MaxBlockDuration = retention.Milliseconds() / 10
	db, err := tsdb.Open(dir, logger, nil, opts, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := db.Compact(ctx); err != nil {
		log.Fatal(err)
	}
	if err := db.Close(); err != nil {
		log.Fatal(err)
	}
	return samples
}

func controllerOf(l labels.Labels) int {
	var c int
	_, _ = fmt.Sscanf(l.Get("instance"), "cc-%d", &c)
	return c
}

// energy is the meter of controller c at t: 11 kW while charging.
func energy(c int, t int64, phase func(int, int64) int) float64 {
	const cycle = 40 * 60
	s := t/1000 + int64(c)*97
	full := s / cycle
	in := s % cycle
	e := float64(full) * 1200 * 11000
	if in > 900 {
		e += float64(min(in, 2100)-900) * 11000
	}
	return 1e9 + e
}
