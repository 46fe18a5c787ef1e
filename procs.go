package main

import (
	"os"
	"runtime"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// procsGovernor runs the Go scheduler on one P while the exporter is mostly
// idle and on the default GOMAXPROCS once it is busy.
//
// Prometheus sends probes one at a time, spread over the interval, so the
// exporter spends its life waking from idle. With more than one P every
// goroutine hand-off of a probe (the server's connection, its background
// read, the shared request, the transport's read and write loops) wakes
// another OS thread, which spins, finds nothing and parks again: at 200
// probes/s that was 13 context switches per probe against 2 at saturation,
// and the thread wake-ups, the idle scheduler and sysmon were over a third
// of the exporter's CPU (docs/performance.md, "A probe that arrives alone").
// On one P the hand-offs stay on the thread that made them. One P caps the
// exporter at one core, so at half a core busy the governor gives the
// scheduler back its default (every core the cgroup allows, updated by the
// runtime), and takes it away again only after a quiet spell.
//
// GOMAXPROCS in the environment turns the governor off: the operator's
// value is kept.
type procsGovernor struct {
	procs int // GOMAXPROCS now
	max   int // the runtime's default GOMAXPROCS
	quiet int // windows in a row below lowerBelow, while at max
}

const (
	// procsWindow is how often the governor looks at the CPU used.
	procsWindow = time.Second
	// raiseAt: on one P, at this share of one core used in a window the
	// default comes back. Probes then start to queue behind each other.
	raiseAt = 0.5
	// lowerBelow and lowerAfter: below this share of one core for this many
	// windows in a row, the governor goes back to one P.
	lowerBelow = 0.25
	lowerAfter = 10
)

// next is the GOMAXPROCS for the next window, given the cores' worth of CPU
// the process used in the last one.
func (g *procsGovernor) next(used float64) int {
	switch {
	case g.procs == 1 && used >= raiseAt:
		g.procs, g.quiet = g.max, 0
	case g.procs > 1 && used < lowerBelow:
		if g.quiet++; g.quiet >= lowerAfter {
			g.procs, g.quiet = 1, 0
		}
	default:
		g.quiet = 0
	}
	return g.procs
}

// governProcs starts the governor unless GOMAXPROCS is set, the runtime
// has one P anyway, or the process cannot read its CPU time.
func governProcs(logger log.Logger) {
	if _, ok := cpuTime(); !ok {
		return
	}
	if os.Getenv("GOMAXPROCS") != "" {
		level.Info(logger).Log("msg", "GOMAXPROCS set in the environment: the scheduler keeps it", "gomaxprocs", runtime.GOMAXPROCS(0))
		return
	}
	max := runtime.GOMAXPROCS(0)
	if max <= 1 {
		return
	}
	g := &procsGovernor{procs: 1, max: max}
	runtime.GOMAXPROCS(1)
	level.Info(logger).Log("msg", "One P while idle, the default GOMAXPROCS from half a core busy (set GOMAXPROCS to keep one value)", "gomaxprocs_busy", max)
	go func() {
		last, _ := cpuTime()
		at := time.Now()
		for range time.Tick(procsWindow) {
			now, _ := cpuTime()
			t := time.Now()
			used := (now - last).Seconds() / t.Sub(at).Seconds()
			last, at = now, t
			was := g.procs
			if p := g.next(used); p != was {
				if p == g.max {
					runtime.SetDefaultGOMAXPROCS()
					g.max = runtime.GOMAXPROCS(0) // the runtime may have a new default (a changed CPU limit)
					g.procs = g.max
				} else {
					runtime.GOMAXPROCS(p)
				}
				level.Debug(logger).Log("msg", "GOMAXPROCS changed", "from", was, "to", g.procs, "cores_used", used)
			}
		}
	}()
}
