package probe

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/bender-cc/bender_cc_exporter/collector"
	"github.com/bender-cc/bender_cc_exporter/modbus"
)

// debugView is the ?debug=true writer for the request's module: the
// Modbus one for a module that reads Modbus only.
func debugView(req *request) func(http.ResponseWriter, *request, collector.Result, bool, *prometheus.Registry) {
	if req.modbus != nil && req.base == req.modbus {
		return writeModbusDebug
	}
	return writeDebug
}

// writeModbusDebug answers ?debug=true for a Modbus probe: what was read,
// how each register was decoded, and the metrics.
func writeModbusDebug(w http.ResponseWriter, req *request, res collector.Result, shared bool, reg *prometheus.Registry) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Probe of %s with module %q, timeout %s\n\n", req.target, req.moduleName, req.timeout)
	fmt.Fprintln(&b, "Request:")
	fmt.Fprintf(&b, "  Modbus TCP %s, unit id %d, function code 03 (read holding registers) only\n", req.modbus.Host, req.module.Modbus.UnitID)
	for _, set := range []modbus.Set{modbus.Set522, modbus.Set512} {
		fmt.Fprintf(&b, "  register set %s: %s\n", set, blocks(set))
		fmt.Fprintf(&b, "    read as 100-101, then in one burst %s (a controller that refuses a read across a gap: by the blocks above; one that drops pipelined requests: one at a time)\n", ranges(modbus.Reads(set)))
	}
	if shared {
		fmt.Fprintln(&b, "  (shared with a concurrent probe of the same controller and module)")
	}
	fmt.Fprintln(&b, "\nResult:")
	fmt.Fprintf(&b, "  duration %s\n", res.Duration.Round(time.Microsecond))
	if res.Err != nil {
		fmt.Fprintf(&b, "  error: %s\n", res.Err)
	}
	if res.State != nil {
		fmt.Fprintln(&b, "\nRegisters, as decoded (first register of each value):")
		for _, v := range res.State.Values {
			val := v.Field.Value
			if v.Spec.Kind == collector.Errors {
				val = strings.Join(v.Codes, ";")
				if val == "" {
					val = "(none)"
				}
			}
			fmt.Fprintf(&b, "  %4d  %-30s %-28s → bender_cc_%s\n", v.Field.Line, v.Spec.Key, val, v.Spec.Metric)
		}
		for _, iv := range res.State.Invalid {
			fmt.Fprintf(&b, "  %4d  %-30s not decoded: %s\n", iv.Line, iv.Key, iv.Reason)
		}
	}
	writeDebugMetrics(w, &b, reg)
}

// blocks lists the reads of a register set.
func blocks(set modbus.Set) string {
	var parts []string
	for _, g := range []struct {
		group modbus.Group
		name  string
	}{{modbus.Base, ""}, {modbus.DLM, "on a DLM master "}, {modbus.Optional, "optional "}} {
		parts = append(parts, g.name+ranges(modbus.Plan(set, g.group)))
	}
	return strings.Join(parts, "; ")
}

// ranges lists blocks as 100-101, 104-112, 124.
func ranges(blocks []modbus.Block) string {
	var bs []string
	for _, bl := range blocks {
		if bl.Count == 1 {
			bs = append(bs, fmt.Sprint(bl.Addr))
		} else {
			bs = append(bs, fmt.Sprintf("%d-%d", bl.Addr, bl.Addr+bl.Count-1))
		}
	}
	return strings.Join(bs, ", ")
}

// writeDebugMetrics ends a debug view: the metrics of the probe, then the
// whole text to w.
func writeDebugMetrics(w http.ResponseWriter, b *bytes.Buffer, reg *prometheus.Registry) {
	fmt.Fprintln(b, "\nMetrics:")
	mfs, err := reg.Gather()
	if err != nil {
		fmt.Fprintf(b, "  error gathering: %v\n", err)
	}
	for _, mf := range mfs {
		_, _ = expfmt.MetricFamilyToText(b, mf)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.Copy(w, b)
}
