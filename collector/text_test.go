package collector

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/bender-cc/bender_cc_exporter/simulator"
)

// reference is what client_golang exposes for the Collector of r.
func reference(t testing.TB, r Result, labels map[string]string) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	prometheus.WrapRegistererWith(labels, reg).MustRegister(New(r))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func sameAsReference(t *testing.T, name string, r Result) {
	t.Helper()
	for _, labels := range []map[string]string{nil, {"site": "depot", "zone": "b\"1\\"}, {"a": "x"}} {
		var b bytes.Buffer
		WriteText(&b, r, labels)
		if want := reference(t, r, labels); b.String() != want {
			t.Fatalf("%s, labels %v: WriteText differs from client_golang:\n%s", name, labels, lineDiff(want, b.String()))
		}
	}
}

func lineDiff(want, got string) string {
	w, g := bytes.Split([]byte(want), []byte("\n")), bytes.Split([]byte(got), []byte("\n"))
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b []byte
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if !bytes.Equal(a, b) {
			return "line " + string(rune('0'+i%10)) + ":\n want " + string(a) + "\n  got " + string(b)
		}
	}
	return ""
}

// TestWriteTextMatchesClientGolang holds the fast writer to the reference
// on every fixture, odd documents, failures, and a day of a simulated fleet.
func TestWriteTextMatchesClientGolang(t *testing.T) {
	for f, body := range fixtures(t) {
		st, err := Parse(body)
		if err != nil {
			t.Fatal(err)
		}
		sameAsReference(t, f, Result{State: st, Duration: 1234567 * time.Nanosecond})
	}
	for _, doc := range []string{
		"ocpp_state:AAA\nslave_state:zzz\nmcb_schuko_state:x\nmcb_type2_state:okay\nerrors:z;a;m\ncp_vendor:a\"b\\c",
		"type2_proximity:13\nrcmb_values:4294967295,0.5\ncurrent_a:1\nenergy_man_current:4294967295",
		"errors:keine_fehler\nocpp_meter_serial:x",
		"power_w:-0.000001\nmeter_wh:1e300\nambient_temp:-40",
	} {
		st, err := Parse([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		sameAsReference(t, doc, Result{State: st})
	}
	sameAsReference(t, "failure", Result{Err: errors.New("refused"), Duration: time.Second})
	sameAsReference(t, "failure with its reason", Result{Err: errors.New("refused"), Duration: time.Second,
		Failure: &Failure{Result: "connection_failed", Admission: "probed"}})

	fleet, err := simulator.NewFleet(simulator.Options{Controllers: 20, Seed: 5, Firmware: "mixed", Start: time.Unix(1.8e9, 0)})
	if err != nil {
		t.Fatal(err)
	}
	srvDoc := func(id int, at time.Time) []byte {
		c := fleet.Controller(id)
		var b bytes.Buffer
		c.Write(&b, c.Document(c.StateAt(at)))
		return b.Bytes()
	}
	for id := 1; id <= fleet.Len(); id++ {
		for at := time.Unix(1.8e9, 0); at.Before(time.Unix(1.8e9+86400, 0)); at = at.Add(47 * time.Minute) {
			st, err := Parse(srvDoc(id, at))
			if err != nil {
				t.Fatal(err)
			}
			sameAsReference(t, "simulated", Result{State: st, Duration: time.Millisecond})
		}
	}
}

// BenchmarkWriteText is parse plus the text exposition /probe sends.
func BenchmarkWriteText(b *testing.B) {
	body := fixture(b, "fw5.33_charging.txt")
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		st, err := Parse(body)
		if err != nil {
			b.Fatal(err)
		}
		buf.Reset()
		WriteText(&buf, Result{State: st}, nil)
	}
}
