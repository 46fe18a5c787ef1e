package collector

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "bender_cc"

// Result is the outcome of one probe of one controller.
type Result struct {
	State    *FullState // nil when Err is set
	Err      error
	Duration time.Duration // fetch and parse
	Status   int           // HTTP status, 0 when there was no answer
	Body     []byte        // the raw body, for the debug view
	// Sources says which sources were read, for modules that read Modbus
	// (bender_cc_source_up), sorted by name; empty for REST-only modules.
	Sources []SourceStatus
	// Failure, when set on a failed probe, says why in the answer
	// (bender_cc_failure_info); the probe handler sets it.
	Failure *Failure
}

// Failure names why a probe failed, as label values of bender_cc_failure_info.
type Failure struct {
	// Result is the class of failure: the result label of
	// bender_cc_exporter_probes_total (timeout, connection_failed, …).
	Result string
	// Admission is how the exporter served the probe: probed (with the
	// whole timeout), or why it answered sooner (trial, circuit_open, …).
	Admission string
}

// failureInfoHelp is the HELP of bender_cc_failure_info.
const failureInfoHelp = "Why bender_cc_up is 0 (only then): result is the class of failure (as in bender_cc_exporter_probes_total), admission how the exporter served the scrape: probed (with the whole timeout), trial (the target's last probes timed out; tried as long as it usually needs), circuit_open, target_cap or capacity (answered at once, not probed), preempted (given up, without an answer after longer than the target usually needs, to make room)."

// unknownStatesHelp is the HELP of bender_cc_unknown_states.
const unknownStatesHelp = "State-set values in this document that are none of the documented states (exported as one more state, which no alert selects)."

var (
	upDesc            = newDesc("up", "1 if the controller was read (its full_state fetched and parsed, or its Modbus registers read; with both sources, either), else 0.")
	durationDesc      = newDesc("scrape_duration_seconds", "Seconds this probe took to read the controller (full_state fetched and parsed, or the Modbus registers read); a probe that shared a concurrent probe's request counts its own wait.")
	parseErrDesc      = newDesc("parse_errors", "Values in this document that could not be parsed.")
	unknownDesc       = newDesc("unknown_keys", "Keys in this document that the exporter does not know.")
	unknownStatesDesc = newDesc("unknown_states", unknownStatesHelp)
	errorsDesc        = newDesc("errors", "Number of active error codes.")
	failureDesc       = newDesc("failure_info", failureInfoHelp, "admission", "result")

	// rowDescs[i] is the desc of Keys[i]; numberDescs[i] the desc of its NumberMetric.
	rowDescs, numberDescs = buildDescs()
	infoDescs             = func() map[string]*prometheus.Desc {
		m := map[string]*prometheus.Desc{}
		for _, im := range InfoMetrics {
			m[im.Metric] = newDesc(im.Metric, im.Help, im.Labels...)
		}
		return m
	}()
)

func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
}

// buildDescs makes one desc per metric name; rows that share a metric share it.
func buildDescs() ([]*prometheus.Desc, []*prometheus.Desc) {
	byName := map[string]*prometheus.Desc{}
	rows := make([]*prometheus.Desc, len(Keys))
	numbers := make([]*prometheus.Desc, len(Keys))
	for i, k := range Keys {
		if k.Kind == Private || k.Kind == Info {
			continue
		}
		if k.NumberMetric != "" {
			numbers[i] = newDesc(k.NumberMetric, k.NumberHelp)
		}
		if d, ok := byName[k.Metric]; ok {
			rows[i] = d
			continue
		}
		var labels []string
		if k.Label != "" {
			labels = append(labels, k.Label)
		}
		switch k.Kind {
		case StateSet:
			labels = append(labels, "state")
		case List:
			labels = append(labels, k.ListLabel)
		case Errors:
			labels = append(labels, "error")
		}
		rows[i] = newDesc(k.Metric, k.Help, labels...)
		byName[k.Metric] = rows[i]
	}
	return rows, numbers
}

// Collector turns the Result of one probe into metrics. It is built per probe
// and emits const metrics only.
type Collector struct {
	r Result
}

// New returns the Collector for one probe's Result.
func New(r Result) *Collector { return &Collector{r: r} }

// Describe sends nothing: the collector is unchecked, built per probe for a
// fresh registry.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	up := 0.0
	if c.r.Err == nil && c.r.State != nil {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(durationDesc, prometheus.GaugeValue, c.r.Duration.Seconds())
	collectSources(ch, c.r.Sources)
	if up == 0 {
		if f := c.r.Failure; f != nil {
			emit(ch, failureDesc, prometheus.GaugeValue, 1, f.Admission, f.Result)
		}
		return
	}
	st := c.r.State
	ch <- prometheus.MustNewConstMetric(parseErrDesc, prometheus.GaugeValue, float64(len(st.Invalid)))
	ch <- prometheus.MustNewConstMetric(unknownDesc, prometheus.GaugeValue, float64(len(st.Unknown)))
	ch <- prometheus.MustNewConstMetric(unknownStatesDesc, prometheus.GaugeValue, float64(st.UnknownStates()))
	collectLimitedBy(ch, st)

	info := map[string][]string{}
	for i := range st.Values {
		v := &st.Values[i]
		if v.Spec.Kind == Info {
			addInfo(info, v)
			continue
		}
		collectValue(ch, v)
	}
	for _, im := range InfoMetrics {
		if values, ok := info[im.Metric]; ok {
			emit(ch, infoDescs[im.Metric], prometheus.GaugeValue, 1, values...)
		}
	}
}

func collectValue(ch chan<- prometheus.Metric, v *Value) {
	spec, desc := v.Spec, rowDescs[v.Spec.index()]
	var fixed []string
	if spec.Label != "" {
		fixed = []string{spec.LabelValue}
	}
	typ := prometheus.GaugeValue
	if spec.Type == Counter {
		typ = prometheus.CounterValue
	}
	switch spec.Kind {
	case StateSet:
		current := v.Field.Value
		known := false
		for _, s := range spec.States {
			x := 0.0
			if s == current {
				x, known = 1, true
			}
			emit(ch, desc, typ, x, append(fixed, s)...)
		}
		if !known {
			emit(ch, desc, typ, 1, append(fixed, current)...)
		}
		for _, n := range v.Numbers {
			emit(ch, numberDescs[spec.index()], typ, n.Value)
		}
	case Bool, Number:
		for _, n := range v.Numbers {
			emit(ch, desc, typ, n.Value, fixed...)
		}
	case List:
		for _, n := range v.Numbers {
			emit(ch, desc, typ, n.Value, append(fixed, spec.ListValues[n.Index])...)
		}
	case Errors:
		for _, code := range v.Codes {
			emit(ch, desc, typ, 1, code)
		}
		emit(ch, errorsDesc, typ, float64(len(v.Codes)))
	}
}

// addInfo puts an Info value into its info metric's label values, in the
// order InfoMetrics gives, leaving absent labels "".
func addInfo(info map[string][]string, v *Value) {
	for _, im := range InfoMetrics {
		if im.Metric != v.Spec.Metric {
			continue
		}
		values, ok := info[im.Metric]
		if !ok {
			values = make([]string, len(im.Labels))
			info[im.Metric] = values
		}
		for j, l := range im.Labels {
			if l == v.Spec.InfoLabel {
				values[j] = v.Field.Value
			}
		}
	}
}

// emit sends a const metric. Parse only admits valid UTF-8, so label values
// are always valid; should that ever change, a bad series is dropped rather
// than failing the whole scrape.
func emit(ch chan<- prometheus.Metric, d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
	if m, err := prometheus.NewConstMetric(d, t, v, labels...); err == nil {
		ch <- m
	}
}

// index returns the row number of spec in Keys.
func (k *KeySpec) index() int { return byKey[k.Key] }
