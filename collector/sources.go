package collector

import "github.com/prometheus/client_golang/prometheus"

// SourceStatus is the outcome of one source of a probe that reads several
// (a module with source [rest, modbus]), or of its only source when that is
// Modbus.
type SourceStatus struct {
	Name string // "rest" or "modbus"
	Err  error
}

const sourceUpHelp = "1 if this source of the probe (rest: full_state, modbus: the Modbus TCP registers) was read, else 0; only for modules that read Modbus."

var sourceUpDesc = newDesc("source_up", sourceUpHelp, "source")

func collectSources(ch chan<- prometheus.Metric, sources []SourceStatus) {
	for _, s := range sources {
		up := 0.0
		if s.Err == nil {
			up = 1
		}
		emit(ch, sourceUpDesc, prometheus.GaugeValue, up, s.Name)
	}
}
