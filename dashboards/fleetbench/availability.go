package main

import (
	"fmt"
	"time"
)

// minutes is how one connector spent one hour, in minutes: operational,
// down, excluded (down in a declared maintenance window); the rest of the
// 60 is unknown.
type minutes struct{ op, down, excl int }

// hourOf is the fleet's availability, hour by hour: controller c's
// connector (1 master, 2 slave) in hour h (hours since the epoch). A
// faulted controller's master is down all the time; now and then a
// connector is down for a while, a controller is unknown for part of an
// hour, or in a maintenance window; an unreachable controller is never
// known (it has no series).
func hourOf(c, connector int, h int64) minutes {
	if connector == 1 && faulted(c) {
		return minutes{down: 60}
	}
	x := uint64(c)*2654435761 + uint64(connector)*40503 + uint64(h)*97 //nolint:gosec // a spread, not a secret
	x ^= x >> 13
	switch {
	case c%53 == 0 && h%168 == 30:
		return minutes{excl: 60}
	case x%400 == 0:
		d := 5 + int(x/400%40)
		return minutes{op: 60 - d, down: d}
	case x%300 == 1:
		return minutes{op: 40}
	}
	return minutes{op: 60}
}

// minuteOf is the state of the connector in minute m of hour h, consistent
// with hourOf: the down minutes first, then the excluded ones, then the
// operational ones. It returns the minute series' value (1 operational, 0
// down) and whether the minute has one (false: unknown or excluded), and
// whether it is excluded.
func minuteOf(c, connector int, h int64, m int) (value float64, known, excluded bool) {
	s := hourOf(c, connector, h)
	switch {
	case m < s.down:
		return 0, true, false
	case m < s.down+s.excl:
		return 0, false, true
	case m < s.down+s.excl+s.op:
		return 1, true, false
	}
	return 0, false, false
}

// windowOf sums the hours (h-n, h] of a connector.
func windowOf(c, connector int, h int64, n int64) minutes {
	var w minutes
	for i := h - n + 1; i <= h; i++ {
		s := hourOf(c, connector, i)
		w.op, w.down, w.excl = w.op+s.op, w.down+s.down, w.excl+s.excl
	}
	return w
}

// availabilitySeries adds the recording rules' availability series of
// controller c (alerts/bender_cc.rules.yml, bender_cc.availability and
// bender_cc.availability.hourly): the minute series and the 1- and 6-hour
// ratios (the day only), the hourly sums (the whole history) and the 1-,
// 3-, 7- and 30-day ratios and the 30-day unknown and excluded shares
// (recorded hourly; the day only).
func availabilitySeries(add adder, base []string, c int, begin time.Time) {
	with := func(ls ...string) []string { return append(append([]string{}, base...), ls...) }
	day := begin.UnixMilli()
	hour := func(t int64) int64 { return t / 3600e3 }
	for connector := 1; connector <= 2; connector++ {
		conn := fmt.Sprint(connector)
		minute := func(t int64) (float64, bool, bool) { return minuteOf(c, connector, hour(t), int(t/60e3%60)) }
		add.minutes(day, func(_ int, t int64) (float64, bool) {
			v, known, _ := minute(t)
			return v, known
		}, with("__name__", "bender_cc:connector_operational:minute", "connector", conn)...)
		add.minutes(day, func(_ int, t int64) (float64, bool) {
			_, _, excl := minute(t)
			return 1, excl
		}, with("__name__", "bender_cc:connector_excluded:minute", "connector", conn)...)
		lastHour := func(t int64) minutes { return hourOf(c, connector, hour(t)) }
		add.minutes(day, func(_ int, t int64) (float64, bool) {
			s := lastHour(t)
			return float64(s.op) / float64(s.op+s.down), s.op+s.down > 0
		}, with("__name__", "bender_cc:connector_availability:ratio_1h", "connector", conn)...)
		add.minutes(day, func(_ int, t int64) (float64, bool) {
			s := windowOf(c, connector, hour(t), 6)
			return float64(s.op) / float64(s.op+s.down), s.op+s.down > 0
		}, with("__name__", "bender_cc:connector_availability:ratio_6h", "connector", conn)...)

		add.hours(0, func(_ int, t int64) (float64, bool) {
			s := hourOf(c, connector, hour(t)-1)
			return float64(s.op), s.op+s.down > 0
		}, with("__name__", "bender_cc:connector_operational_minutes:sum1h", "connector", conn)...)
		add.hours(0, func(_ int, t int64) (float64, bool) {
			s := hourOf(c, connector, hour(t)-1)
			return float64(s.op + s.down), s.op+s.down > 0
		}, with("__name__", "bender_cc:connector_known_minutes:sum1h", "connector", conn)...)
		add.hours(0, func(_ int, t int64) (float64, bool) {
			s := hourOf(c, connector, hour(t)-1)
			return float64(s.excl), s.excl > 0
		}, with("__name__", "bender_cc:connector_excluded_minutes:sum1h", "connector", conn)...)
		for _, w := range []struct {
			name  string
			hours int64
		}{{"1d", 24}, {"3d", 72}, {"7d", 168}, {"30d", 720}} {
			// The hours the rules' windows hold at t: the whole hours before the
			// one just recorded. Memoized: two series read each.
			seen := map[int64]minutes{}
			window := func(t int64) minutes {
				s, ok := seen[t]
				if !ok {
					s = windowOf(c, connector, hour(t)-2, w.hours)
					seen[t] = s
				}
				return s
			}
			add.hours(day, func(_ int, t int64) (float64, bool) {
				s := window(t)
				return float64(s.op) / float64(s.op+s.down), s.op+s.down > 0
			}, with("__name__", "bender_cc:connector_availability:ratio_"+w.name, "connector", conn)...)
			if w.name != "30d" {
				continue // the unknown and excluded shares: 30 days only
			}
			add.hours(day, func(_ int, t int64) (float64, bool) {
				s := window(t)
				return 1 - float64(s.op+s.down+s.excl)/43200, s.op+s.down+s.excl > 0
			}, with("__name__", "bender_cc:connector_unknown:ratio_30d", "connector", conn)...)
			add.hours(day, func(_ int, t int64) (float64, bool) {
				s := window(t)
				return float64(s.excl) / 43200, s.excl > 0
			}, with("__name__", "bender_cc:connector_excluded:ratio_30d", "connector", conn)...)
		}
	}
}

// siteAvailability adds the per-job-and-site hourly sums of the
// controllers lo..hi-1 over the whole history.
func siteAvailability(add adder, base []string, lo, hi int) {
	for _, m := range []struct {
		name string
		of   func(minutes) int
	}{
		{"operational", func(s minutes) int { return s.op }},
		{"known", func(s minutes) int { return s.op + s.down }},
		{"excluded", func(s minutes) int { return s.excl }},
	} {
		add.hours(0, func(_ int, t int64) (float64, bool) {
			v := 0
			for c := lo; c < hi; c++ {
				if !down(c) {
					v += m.of(hourOf(c, 1, t/3600e3-1)) + m.of(hourOf(c, 2, t/3600e3-1))
				}
			}
			return float64(v), true
		}, append(append([]string{}, base...), "__name__", "job_site:bender_cc_connector_"+m.name+"_minutes:sum1h")...)
	}
}
