package admission

// What a probe holds, measured (docs/performance.md, "Overload"). A probe
// that waits (connecting, or for the controller's first byte) holds
// goroutines, two sockets and their buffers, no body: 54 KiB of RSS each
// over 2,000 probes of controllers that accept and never answer, 46.5 KiB
// when the connect never completes (59 and 50 before the request's own
// goroutine went). A probe that works (reads the body,
// parses it, writes the answer) holds the body, the parsed document and
// the answer besides; and in an overload the connections beside the
// probes (--web.max-connections, many waiting for their request to be
// read) and the pooled connections to controllers add as much again: 76
// MiB of heap and stacks for 549 probes in flight and 1,123 connections
// when every probe was budgeted alike. The GC lets garbage grow beside
// what is live before it collects (up to the Go memory limit): with 691
// waiting probes at 64 KiB in a 128 MiB cgroup the cgroup peaked at 94 MiB
// in the blackout of 5,000 controllers, too close to the limit's last
// tenth. So a waiting probe is budgeted at 80 KiB and a working one at
// 128 KiB.
const (
	waitingMemory = 80 << 10
	workingMemory = 128 << 10
	// probeShare is the share of the memory budget that probes in flight
	// may take; the rest is the exporter's base (20 MiB: runtime, config,
	// metrics, pooled connections to controllers), the connections beside
	// probes, and the garbage of probes that have ended, which the GC
	// collects before the limit.
	probeShare = 0.5
	// workingShare is the part of probeShare kept for working probes. A
	// working probe ends within milliseconds unless the CPU is short, so
	// few are working at once (333 probes/s at 1 ms: one); the rest of the
	// share goes to waiting probes, which last up to the scrape timeout.
	workingShare = 0.25
	// targetMemory is what the state of one target costs (its entry, key
	// and list element); targetShare the share of the budget it may take.
	targetMemory = 512
	targetShare  = 0.05

	// Bounds when no memory limit is known: as many probes in flight as
	// before the bounds were split (4,096).
	defaultWaiting = 3584
	defaultWorking = 512
	defaultTargets = 100_000
	minWaiting     = 16
	minWorking     = 4
	minTargets     = 10_000
	maxTargets     = 1_000_000
	// DefaultPerTarget bounds the probes of one target in flight: two
	// Prometheus servers of an HA pair, a dashboard and a person.
	DefaultPerTarget = 4
)

// Bounds are the limits admission works within.
type Bounds struct {
	// Waiting bounds the probes connecting or waiting for a controller's
	// first byte; Working those reading, parsing and answering. InFlight
	// bounds both together (--probe.max-in-flight); 0 means no bound.
	Waiting, Working, InFlight int
	// PerTarget bounds the probes of one target (module and address) in
	// flight; 0 means no bound.
	PerTarget int
	// Targets bounds the per-target state kept (see Controller).
	Targets int
}

// BoundsFor sizes the bounds for a memory budget in bytes (0: unknown):
// half of it for probes in flight, a quarter of that for working probes
// at workingMemory each and the rest for waiting ones at waitingMemory;
// InFlight is their sum.
func BoundsFor(budget int64) Bounds {
	b := Bounds{Waiting: defaultWaiting, Working: defaultWorking, PerTarget: DefaultPerTarget, Targets: defaultTargets}
	if budget > 0 {
		probes := float64(budget) * probeShare
		b.Working = min(defaultWorking, max(minWorking, int(probes*workingShare/workingMemory)))
		b.Waiting = min(defaultWaiting, max(minWaiting, int(probes*(1-workingShare)/waitingMemory)))
		b.Targets = min(maxTargets, max(minTargets, int(float64(budget)*targetShare/targetMemory)))
	}
	b.InFlight = b.Waiting + b.Working
	return b
}

// Override sets the bounds given explicitly (a flag at -1 keeps the sized
// one; 0 means no bound). Without an explicit --probe.max-in-flight it is
// the sum of the waiting and working bounds (none if either is none);
// with "no bound" there and no bound on waiting or working given, there is
// none on either.
func (b Bounds) Override(waiting, working, inFlight, perTarget, targets int) Bounds {
	set := func(dst *int, v int) {
		if v >= 0 {
			*dst = v
		}
	}
	if inFlight == 0 {
		b.Waiting, b.Working = 0, 0
	}
	set(&b.Waiting, waiting)
	set(&b.Working, working)
	switch {
	case inFlight >= 0:
		b.InFlight = inFlight
	case b.Waiting == 0 || b.Working == 0:
		b.InFlight = 0
	default:
		b.InFlight = b.Waiting + b.Working
	}
	set(&b.PerTarget, perTarget)
	set(&b.Targets, targets)
	return b
}
