package collector

import (
	"bytes"
	"maps"
	"slices"
	"sort"
	"sync"
)

// WriteText writes the metrics of one probe in the Prometheus text format
// (version 0.0.4), with labels added to every series: byte for byte what a
// registry holding New(r) would expose (the tests hold it to that), at a
// fraction of the cost, because /probe runs for every controller on every
// scrape. Families and their order are resolved once, at start.
func WriteText(buf *bytes.Buffer, r Result, labels map[string]string) {
	w := writers.Get().(*textWriter)
	defer writers.Put(w)
	*w = textWriter{buf: buf}
	w.extra = w.extraBuf[:0]
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		// Rendered once per probe: name="value", escaped.
		w.extra = append(w.extra, [2]string{k, k + `="` + escapeLabel(labels[k]) + `"`})
	}
	up := 0.0
	if r.Err == nil && r.State != nil {
		up = 1
	}
	var byRow [maxRows]*Value // len(Keys) <= maxRows: checked in init
	var info [maxInfo][]string
	if up == 1 {
		for i := range r.State.Values {
			v := &r.State.Values[i]
			byRow[v.Spec.index()] = v
			if v.Spec.Kind == Info {
				for m, im := range InfoMetrics {
					if im.Metric == v.Spec.Metric {
						if info[m] == nil {
							info[m] = make([]string, len(im.Labels))
						}
						info[m][slices.Index(im.Labels, v.Spec.InfoLabel)] = v.Field.Value
					}
				}
			}
		}
	}
	for _, f := range families {
		if up == 0 && f.kind != famUp && f.kind != famDuration && f.kind != famSources && f.kind != famFailure || up == 1 && f.kind == famFailure {
			continue
		}
		w.fam = f
		w.started = false
		switch f.kind {
		case famUp:
			w.sample(up)
		case famDuration:
			w.sample(r.Duration.Seconds())
		case famFailure:
			if fl := r.Failure; fl != nil {
				w.sample(1, [2]string{"admission", fl.Admission}, [2]string{"result", fl.Result})
			}
		case famSources:
			for _, s := range r.Sources {
				w.sample(map[bool]float64{true: 1}[s.Err == nil], [2]string{"source", s.Name})
			}
		case famParseErrors:
			w.sample(float64(len(r.State.Invalid)))
		case famUnknown:
			w.sample(float64(len(r.State.Unknown)))
		case famUnknownStates:
			w.sample(float64(r.State.UnknownStates()))
		case famLimitedBy:
			if set, ok := limitedBy(&byRow); ok {
				for i, l := range Limits {
					w.sample(set.value(i), [2]string{"limit", l})
				}
			}
		case famErrorCount:
			if v := byRow[errorsRow]; v != nil {
				w.sample(float64(len(v.Codes)))
			}
		case famInfo:
			if vals := info[f.info]; vals != nil {
				for i, l := range InfoMetrics[f.info].Labels {
					w.labels[i] = [2]string{l, vals[i]}
				}
				// InfoMetrics labels are not sorted; the exposition's are.
				ls := w.labels[:len(vals)]
				sortLabels(ls)
				w.sample(1, ls...)
			}
		case famNumber:
			for _, row := range f.rows {
				if v := byRow[row]; v != nil {
					for _, n := range v.Numbers {
						w.sample(n.Value)
					}
				}
			}
		case famRows:
			for _, row := range f.rows {
				if v := byRow[row]; v != nil {
					w.row(v)
				}
			}
		}
	}
}

// Room in WriteText's arrays: rows of Keys and InfoMetrics.
const (
	maxRows = 96
	maxInfo = 4
)

type famKind int

const (
	famRows famKind = iota
	famNumber
	famInfo
	famUp
	famDuration
	famParseErrors
	famUnknown
	famUnknownStates
	famErrorCount
	famSources
	famFailure
	famLimitedBy
)

// family is one metric name: its HELP and TYPE lines and where its samples
// come from.
type family struct {
	name, header string // header: the # HELP and # TYPE lines
	kind         famKind
	rows         []int // Keys rows feeding it, ordered as their samples sort
	info         int   // famInfo: index into InfoMetrics
}

var (
	families  []*family
	errorsRow = byKey["errors"]
	// sortedStates[i] are the States of Keys[i] in exposition order.
	sortedStates = make([][]string, len(Keys))
)

func init() {
	if len(Keys) > maxRows || len(InfoMetrics) > maxInfo {
		panic("collector: more keys or info metrics than WriteText has room for; raise maxRows or maxInfo")
	}
	byName := map[string]*family{}
	add := func(name, help, typ string, kind famKind) *family {
		f := byName[name]
		if f == nil {
			full := namespace + "_" + name
			f = &family{name: full, kind: kind, header: "# HELP " + full + " " + escapeHelp(help) + "\n# TYPE " + full + " " + typ + "\n"}
			byName[name] = f
			families = append(families, f)
		}
		return f
	}
	add("up", "1 if the controller was read (its full_state fetched and parsed, or its Modbus registers read; with both sources, either), else 0.", "gauge", famUp)
	add("scrape_duration_seconds", "Seconds this probe took to read the controller (full_state fetched and parsed, or the Modbus registers read); a probe that shared a concurrent probe's request counts its own wait.", "gauge", famDuration)
	add("parse_errors", "Values in this document that could not be parsed.", "gauge", famParseErrors)
	add("unknown_keys", "Keys in this document that the exporter does not know.", "gauge", famUnknown)
	add("unknown_states", unknownStatesHelp, "gauge", famUnknownStates)
	add("errors", "Number of active error codes.", "gauge", famErrorCount)
	add("source_up", sourceUpHelp, "gauge", famSources)
	add("failure_info", failureInfoHelp, "gauge", famFailure)
	add("current_limited_by", limitedByHelp, "gauge", famLimitedBy)
	for i, im := range InfoMetrics {
		add(im.Metric, im.Help, "gauge", famInfo).info = i
	}
	for i, k := range Keys {
		if k.Kind == Private || k.Kind == Info {
			continue
		}
		typ := "gauge"
		if k.Type == Counter {
			typ = "counter"
		}
		f := add(k.Metric, k.Help, typ, famRows)
		f.rows = append(f.rows, i)
		if k.NumberMetric != "" {
			nf := add(k.NumberMetric, k.NumberHelp, "gauge", famNumber)
			nf.rows = append(nf.rows, i)
		}
		sortedStates[i] = slices.Sorted(slices.Values(k.States))
	}
	for _, f := range families {
		// Rows sharing a metric differ in their fixed label: sort by it.
		sort.SliceStable(f.rows, func(a, b int) bool { return Keys[f.rows[a]].LabelValue < Keys[f.rows[b]].LabelValue })
	}
	sort.Slice(families, func(a, b int) bool { return families[a].name < families[b].name })
}

// textWriter writes the samples of one family.
type textWriter struct {
	buf      *bytes.Buffer
	fam      *family
	started  bool
	extra    [][2]string // labels of the target, sorted
	extraBuf [8][2]string
	labels   [16][2]string
	num      [32]byte
}

// row writes the samples of one key's value. Labels are built in the
// writer's scratch array: the fixed label, if any, then the varying one.
func (w *textWriter) row(v *Value) {
	spec := v.Spec
	ls := w.labels[:0]
	if spec.Label != "" {
		ls = append(ls, [2]string{spec.Label, spec.LabelValue})
	}
	nf := len(ls)
	with := func(name, value string) [][2]string { return append(ls[:nf], [2]string{name, value}) }
	switch spec.Kind {
	case StateSet:
		current := v.Field.Value
		states := sortedStates[spec.index()]
		known := slices.Contains(states, current)
		for _, s := range states {
			if !known && current < s {
				w.sample(1, with("state", current)...)
				known = true
			}
			x := 0.0
			if s == current {
				x = 1
			}
			w.sample(x, with("state", s)...)
		}
		if !known {
			w.sample(1, with("state", current)...)
		}
	case Bool, Number:
		for _, n := range v.Numbers {
			w.sample(n.Value, ls...)
		}
	case List:
		for _, n := range v.Numbers {
			w.sample(n.Value, with(spec.ListLabel, spec.ListValues[n.Index])...)
		}
	case Errors:
		codes := v.Codes
		if !slices.IsSorted(codes) {
			codes = slices.Sorted(slices.Values(codes))
		}
		for _, c := range codes {
			w.sample(1, with("error", c)...)
		}
	}
}

// sample writes one series; its labels are sorted by name and merged with
// the target's, which were sorted and rendered once per probe: labels known
// once per probe cost only their bytes (sorting every sample's labels had
// cost four times the whole exposition).
func (w *textWriter) sample(value float64, labels ...[2]string) {
	if !w.started {
		w.buf.WriteString(w.fam.header)
		w.started = true
	}
	b := w.buf
	b.WriteString(w.fam.name)
	if len(labels)+len(w.extra) > 0 {
		sortLabels(labels)
		b.WriteByte('{')
		i, j := 0, 0
		for n := 0; i < len(labels) || j < len(w.extra); n++ {
			if n > 0 {
				b.WriteByte(',')
			}
			if j == len(w.extra) || i < len(labels) && labels[i][0] < w.extra[j][0] {
				b.WriteString(labels[i][0])
				b.WriteString(`="`)
				writeEscaped(b, labels[i][1])
				b.WriteByte('"')
				i++
			} else {
				b.WriteString(w.extra[j][1])
				j++
			}
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.Write(appendFloat(w.num[:0], value))
	b.WriteByte('\n')
}

var writers = sync.Pool{New: func() any { return new(textWriter) }}

// BufferPool holds the buffers /probe writes its answers into.
var BufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}
