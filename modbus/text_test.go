package modbus

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/bender-cc/bender_cc_exporter/collector"
)

// WriteText and the Collector stay one exposition for Modbus results too:
// byte for byte what client_golang exposes, merged and failed ones included.
func TestModbusExpositionMatchesCollector(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	_, addrs, _ := fleet(t, now)
	var results []collector.Result
	for id := 1; id <= 3; id++ {
		r := Probe(probeCtx(t), dialer, addrs[id], 255)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		results = append(results, r)
	}
	failed := collector.Result{Err: ErrNotModbus, Sources: []collector.SourceStatus{{Name: "modbus", Err: ErrNotModbus}}}
	rest := collector.Result{Err: errors.New("HTTP 404")}
	results = append(results, failed, Merge(rest, results[0]), Merge(rest, failed))
	for i, r := range results {
		for _, labels := range []map[string]string{nil, {"site": "depot", "chargepoint": "7"}} {
			reg := prometheus.NewPedanticRegistry()
			prometheus.WrapRegistererWith(labels, reg).MustRegister(collector.New(r))
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			var want, got bytes.Buffer
			for _, mf := range mfs {
				_, _ = expfmt.MetricFamilyToText(&want, mf)
			}
			collector.WriteText(&got, r, labels)
			if got.String() != want.String() {
				t.Errorf("result %d, labels %v: WriteText differs from client_golang:\nwant:\n%s\ngot:\n%s", i, labels, want.String(), got.String())
			}
		}
	}
}
