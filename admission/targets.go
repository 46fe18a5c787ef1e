package admission

import (
	"container/list"
	"math/rand/v2"
	"time"
)

// The circuit of a target, after Envoy's outlier detection: a target whose
// last probes timed out is "open" (known dark), and from then on each scrape
// of it is a trial with a deadline its history allows, one at a time, until
// a trial reads it again.
const (
	// openAfter is how many probes in a row must time out (or be preempted
	// for want of an answer) before the circuit opens: one lost answer is
	// a glitch, two in a row (two scrape intervals) a dark link.
	openAfter = 2
	// minPatience is the shortest a trial waits, and how long a probe of a
	// target with no history may wait before it counts as overdue: far
	// longer than a controller on a LAN takes (20–100 ms), and an LTE
	// round trip or two.
	minPatience = time.Second
	// patienceFactor: a target that has answered waits this many times its
	// slowest recent answer before it counts as overdue.
	patienceFactor = 4
	// A trial with the whole scrape timeout ("long trial") now and then
	// finds a controller that has come back slower than its history says,
	// or that was never seen up (dark since the exporter started): first
	// longTrialFirst after the circuit opened, then twice as long after
	// each, at most longTrialMax, each at a random point of [0.5, 1.5) of
	// its span, as gRPC spreads its reconnects: controllers of a site that
	// went dark at once must not wait out their timeouts together again.
	longTrialFirst = time.Minute
	longTrialMax   = 15 * time.Minute
	// targetExpiry: the state of a target not probed for this long goes.
	targetExpiry = 30 * time.Minute
)

// target is what admission knows of one target (module and address).
type target struct {
	key      string
	el       *list.Element // in targets.lru, most recently seen first
	lastSeen time.Time
	inFlight int

	timeouts   int           // probes in a row that timed out (or were preempted)
	slowest    time.Duration // slowest recent success, decaying towards the usual
	lastResult string        // the outcome of the last probe ("" before any)
	trial      bool          // a trial is in flight
	longAt     time.Time     // when the next trial may wait the whole timeout
	longSpan   time.Duration // the span that longAt was drawn from
	refused    bool          // the last request was refused (HTTP 503)
}

// open says whether the target's circuit is open.
func (t *target) open() bool { return t.timeouts >= openAfter }

// failing says whether the target's last probe failed.
func (t *target) failing() bool { return t.lastResult != "" && t.lastResult != resultSuccess }

// patience is how long a probe of t waits before it counts as overdue,
// and how long a trial of t waits: patienceFactor times its slowest recent
// answer, at least minPatience, at most timeout.
func (t *target) patience(timeout time.Duration) time.Duration {
	return min(timeout, max(minPatience, patienceFactor*t.slowest))
}

// record takes the outcome of a probe of t into its state; it returns +1
// when the circuit opened, -1 when it closed.
func (t *target) record(result string, took time.Duration, long bool, now time.Time, rnd func() float64) (change int) {
	wasOpen := t.open()
	t.lastResult = result
	switch result {
	case resultSuccess:
		// The slowest recent answer, decaying by an eighth of the gap per
		// faster one: a slow link is remembered for a few scrapes.
		if took >= t.slowest {
			t.slowest = took
		} else {
			t.slowest -= (t.slowest - took) / 8
		}
		t.timeouts = 0
		t.longSpan = 0
	case resultTimeout:
		t.timeouts++
		switch {
		case t.open() && !wasOpen:
			t.longSpan = longTrialFirst
			t.longAt = now.Add(jitter(t.longSpan, rnd))
		case long:
			t.longSpan = min(longTrialMax, 2*t.longSpan)
			t.longAt = now.Add(jitter(t.longSpan, rnd))
		}
	default:
		// An answer, if not a good one (refused, 401, garbage): the
		// controller is reachable, so it costs no waiting.
		t.timeouts = 0
		t.longSpan = 0
	}
	switch {
	case t.open() && !wasOpen:
		return 1
	case !t.open() && wasOpen:
		return -1
	}
	return 0
}

// jitter is d times a random factor in [0.5, 1.5).
func jitter(d time.Duration, rnd func() float64) time.Duration {
	return time.Duration(float64(d) * (0.5 + rnd()))
}

// targets is the per-target state: bounded by a cap (the least recently
// seen target goes first) and an expiry (a target not probed for
// targetExpiry goes). Its lock is the Controller's.
type targets struct {
	max  int
	m    map[string]*target
	lru  list.List // *target, most recently seen at the front
	open int       // targets whose circuit is open
}

// get returns the state of key, created if need be, and marks it seen.
// It returns nil when every tracked target has probes in flight and the
// cap is reached (more targets in flight than the cap: the cap is sized
// above the bound on probes in flight, so only an explicit flag can do it).
func (ts *targets) get(key string, now time.Time) (t *target, evicted int) {
	if ts.m == nil {
		ts.m = map[string]*target{}
	}
	evicted = ts.expire(now)
	if t = ts.m[key]; t != nil {
		t.lastSeen = now
		ts.lru.MoveToFront(t.el)
		return t, evicted
	}
	if ts.max > 0 && len(ts.m) >= ts.max {
		// The least recently seen without probes in flight, of the last few.
		el := ts.lru.Back()
		for n := 0; el != nil && n < 8 && !ts.evict(el); n++ {
			el = el.Prev()
		}
		if el == nil || el.Value.(*target).inFlight > 0 {
			return nil, evicted
		}
		evicted++
	}
	t = &target{key: key, lastSeen: now}
	t.el = ts.lru.PushFront(t)
	ts.m[key] = t
	return t, evicted
}

// expire drops targets not seen for targetExpiry, a few per call (enough
// to keep up: each call adds one target at most).
func (ts *targets) expire(now time.Time) (n int) {
	for range 4 {
		el := ts.lru.Back()
		if el == nil || now.Sub(el.Value.(*target).lastSeen) < targetExpiry || !ts.evict(el) {
			return n
		}
		n++
	}
	return n
}

// evict drops the target of el unless it has probes in flight.
func (ts *targets) evict(el *list.Element) bool {
	if el == nil {
		return false
	}
	t := el.Value.(*target)
	if t.inFlight > 0 {
		return false
	}
	if t.open() {
		ts.open--
	}
	ts.lru.Remove(el)
	delete(ts.m, t.key)
	return true
}

// The results admission tells apart (probe.ResultSuccess and
// probe.ResultTimeout: the result label of bender_cc_exporter_probes_total).
const (
	resultSuccess = "success"
	resultTimeout = "timeout"
)

// defaultRand is the jitter's source outside tests.
func defaultRand() float64 { return rand.Float64() }
