package collector

import (
	"bytes"
	"testing"
)

// BenchmarkWriteTextLabels is the exposition alone, without and with the
// two target labels a fleet usually sets (site, chargepoint).
func BenchmarkWriteTextLabels(b *testing.B) {
	st, err := Parse(fixture(b, "fw5.33_charging.txt"))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		labels map[string]string
	}{{"none", nil}, {"site,chargepoint", map[string]string{"site": "depot", "chargepoint": "7"}},
		{"a,zz", map[string]string{"a": "1", "zz": "2"}}} {
		b.Run(bc.name, func(b *testing.B) {
			var buf bytes.Buffer
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				WriteText(&buf, Result{State: st}, bc.labels)
			}
		})
	}
}
