package admission

import "github.com/prometheus/client_golang/prometheus"

// metrics are admission's own metrics on /metrics.
type metrics struct {
	early   map[string]prometheus.Counter
	opened  prometheus.Counter
	evicted prometheus.Counter
}

func newMetrics(c *Controller, reg prometheus.Registerer) *metrics {
	early := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bender_cc_exporter_probes_answered_early_total",
		Help: "Probes answered 200 with bender_cc_up 0 before their timeout, by reason: trial (the target's circuit is open and a trial with a shortened deadline ran out), circuit_open (at once: a trial is in flight), target_cap (at once: too many probes of the target in flight), capacity (at once: no room to wait and the target's last probe failed), preempted (it had waited longer than its target needs, without an answer, and the room was needed).",
	}, []string{"reason"})
	m := &metrics{
		early: map[string]prometheus.Counter{},
		opened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bender_cc_exporter_circuits_opened_total",
			Help: "Times a target's circuit opened: its last probes timed out, and from then on its scrapes are trials, one at a time.",
		}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bender_cc_exporter_targets_forgotten_total",
			Help: "Per-target states dropped: not probed for 30 minutes, or the least recently probed one at the bound on targets tracked.",
		}),
	}
	for _, r := range earlyReasons {
		m.early[r] = early.WithLabelValues(r)
	}
	locked := func(f func() float64) func() float64 {
		return func() float64 {
			c.mu.Lock()
			defer c.mu.Unlock()
			return f()
		}
	}
	phases := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "bender_cc_exporter_probes_in_phase", Help: "Probes in flight by phase: waiting (connecting, or for the controller's first byte) and working (reading its answer, parsing, answering).",
			ConstLabels: prometheus.Labels{"phase": "waiting"},
		}, locked(func() float64 { return float64(c.waiting.Len()) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "bender_cc_exporter_probes_in_phase", Help: "Probes in flight by phase: waiting (connecting, or for the controller's first byte) and working (reading its answer, parsing, answering).",
			ConstLabels: prometheus.Labels{"phase": "working"},
		}, locked(func() float64 { return float64(c.working) })),
	}
	bounds := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bender_cc_exporter_probe_bound",
		Help: "The bounds in force (0: none): waiting and working probes, probes in flight (--probe.max-in-flight), probes per target, targets tracked.",
	}, []string{"bound"})
	b := c.bounds
	for name, v := range map[string]int{"waiting": b.Waiting, "working": b.Working, "in_flight": b.InFlight, "per_target": b.PerTarget, "targets": b.Targets} {
		bounds.WithLabelValues(name).Set(float64(v))
	}
	if reg != nil {
		reg.MustRegister(early, m.opened, m.evicted, bounds,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "bender_cc_exporter_circuits_open",
				Help: "Targets whose circuit is open now: their last probes timed out.",
			}, locked(func() float64 { return float64(c.targets.open) })),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "bender_cc_exporter_targets_tracked",
				Help: "Targets whose state admission keeps (bounded by the targets bound; a target not probed for 30 minutes is forgotten).",
			}, locked(func() float64 { return float64(len(c.targets.m)) })),
		)
		reg.MustRegister(phases...)
	}
	return m
}
