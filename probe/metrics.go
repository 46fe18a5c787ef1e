package probe

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a /probe request is refused before any connection: the reason
// label of bender_cc_exporter_probe_requests_refused_total.
const (
	RefusedBadRequest    = "bad_request"    // no or invalid target, invalid scrape timeout header
	RefusedUnknownModule = "unknown_module" // module not in the configuration
	RefusedNotAllowed    = "not_allowed"    // target outside probe.allowed_targets
	RefusedOverloaded    = "overloaded"     // no room for the probe, and nothing admission may give up holds it (HTTP 503)
	RefusedTargetCap     = "target_cap"     // more probes of the target in flight than --probe.max-per-target (HTTP 503)
)

// Metrics are the exporter's own metrics about probes, served on /metrics.
// Labels are bounded: module comes from the configuration, result and reason
// from fixed lists; never a target (per-target health is bender_cc_up).
type Metrics struct {
	probes   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	shared   *prometheus.CounterVec
	inFlight prometheus.Gauge
	refused  *prometheus.CounterVec

	// modules caches each module's children, so that a probe costs no
	// label lookups: name → *moduleMetrics.
	modules sync.Map
}

type moduleMetrics struct {
	results  map[string]prometheus.Counter
	duration prometheus.Observer
	shared   prometheus.Counter
}

// NewMetrics creates the probe metrics and registers them with reg (if not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bender_cc_exporter_probes_total",
			Help: "Probes of controllers by module and result: success, or the class of failure (docs/metrics.md).",
		}, []string{"module", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:                            "bender_cc_exporter_probe_duration_seconds",
			Help:                            "Duration of probes by module, failed ones included, as the /probe caller waited for them.",
			Buckets:                         []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  100,
			NativeHistogramMinResetDuration: time.Hour,
		}, []string{"module"}),
		shared: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bender_cc_exporter_probes_shared_total",
			Help: "Probes answered from a concurrent probe's request to the same controller with the same module.",
		}, []string{"module"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bender_cc_exporter_probes_in_flight",
			Help: "Probes being answered now.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bender_cc_exporter_probe_requests_refused_total",
			Help: "/probe requests refused before any connection, by reason: bad_request, unknown_module, not_allowed, overloaded (HTTP 503: the exporter is at its bounds), target_cap (HTTP 503: too many probes of one target in flight).",
		}, []string{"reason"}),
	}
	for _, r := range []string{RefusedBadRequest, RefusedUnknownModule, RefusedNotAllowed, RefusedOverloaded, RefusedTargetCap} {
		m.refused.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.probes, m.duration, m.shared, m.inFlight, m.refused)
	}
	return m
}

// InitModules creates the series of these modules at zero, so that rates
// over them exist before the first failure (call it after each config load).
func (m *Metrics) InitModules(names []string) {
	for _, n := range names {
		m.module(n)
	}
}

func (m *Metrics) module(name string) *moduleMetrics {
	if mm, ok := m.modules.Load(name); ok {
		return mm.(*moduleMetrics)
	}
	mm := &moduleMetrics{
		results:  make(map[string]prometheus.Counter, len(Results)),
		duration: m.duration.WithLabelValues(name),
		shared:   m.shared.WithLabelValues(name),
	}
	for _, r := range Results {
		mm.results[r] = m.probes.WithLabelValues(name, r)
	}
	v, _ := m.modules.LoadOrStore(name, mm)
	return v.(*moduleMetrics)
}

// observe counts one finished probe.
func (m *Metrics) observe(module, result string, d time.Duration, shared bool) {
	mm := m.module(module)
	mm.results[result].Inc()
	mm.duration.Observe(d.Seconds())
	if shared {
		mm.shared.Inc()
	}
}
