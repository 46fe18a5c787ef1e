package collector

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtures returns every controller body in testdata/, by file name; there
// are at least three.
func fixtures(t testing.TB) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob("../testdata/*.txt")
	if len(files) < 3 {
		t.Fatalf("want at least 3 fixtures, found %d", len(files))
	}
	out := make(map[string][]byte, len(files))
	for _, f := range files {
		out[filepath.Base(f)] = fixture(t, filepath.Base(f))
	}
	return out
}

func collectorFor(t testing.TB, body string) *Collector {
	t.Helper()
	st, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return New(Result{State: st, Duration: 5 * time.Millisecond})
}

func TestCollectAndLintFixtures(t *testing.T) {
	for f, body := range fixtures(t) {
		c := collectorFor(t, string(body))
		problems, err := testutil.CollectAndLint(c)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s: %s", f, p.Metric, p.Text)
		}
	}
}

func TestCollectFailureIsUpZeroOnly(t *testing.T) {
	c := New(Result{Err: errors.New("connection refused"), Duration: 2 * time.Second})
	want := `# HELP bender_cc_scrape_duration_seconds Seconds this probe took to read the controller (full_state fetched and parsed, or the Modbus registers read); a probe that shared a concurrent probe's request counts its own wait.
# TYPE bender_cc_scrape_duration_seconds gauge
bender_cc_scrape_duration_seconds 2
# HELP bender_cc_up 1 if the controller was read (its full_state fetched and parsed, or its Modbus registers read; with both sources, either), else 0.
# TYPE bender_cc_up gauge
bender_cc_up 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

func TestCollectContract(t *testing.T) {
	c := collectorFor(t, "ocpp_state:Störung\nslave_state:\nmcb_type2_state:triggered\nerrors:a;b\ntype2_proximity:no_cable\ncp_model:CC612")
	want := `# HELP bender_cc_error Active error code of the controller (errors), 1 per active code.
# TYPE bender_cc_error gauge
bender_cc_error{error="a"} 1
bender_cc_error{error="b"} 1
# HELP bender_cc_errors Number of active error codes.
# TYPE bender_cc_errors gauge
bender_cc_errors 2
# HELP bender_cc_info Identity of the charge controller; labels are empty when the controller does not send them.
# TYPE bender_cc_info gauge
bender_cc_info{chargepoint_id="",firmware_version="",manufacturer_serial_number="",model="CC612",serial_number="",vendor=""} 1
# HELP bender_cc_mcb_state State of the connector's miniature circuit breaker (mcb_*_state); disable means not fitted.
# TYPE bender_cc_mcb_state gauge
bender_cc_mcb_state{connector="type2",state="disable"} 0
bender_cc_mcb_state{connector="type2",state="okay"} 0
bender_cc_mcb_state{connector="type2",state="triggered"} 1
# HELP bender_cc_ocpp_state OCPP status of the charge point (ocpp_state).
# TYPE bender_cc_ocpp_state gauge
bender_cc_ocpp_state{state="Störung"} 1
bender_cc_ocpp_state{state="available"} 0
bender_cc_ocpp_state{state="charging"} 0
bender_cc_ocpp_state{state="faulted"} 0
bender_cc_ocpp_state{state="finishing"} 0
bender_cc_ocpp_state{state="occupied"} 0
bender_cc_ocpp_state{state="preparing"} 0
bender_cc_ocpp_state{state="reserved"} 0
bender_cc_ocpp_state{state="suspendedev"} 0
bender_cc_ocpp_state{state="suspendedevse"} 0
bender_cc_ocpp_state{state="unavailable"} 0
# HELP bender_cc_type2_proximity_state Proximity pilot state of the Type 2 connector (type2_proximity).
# TYPE bender_cc_type2_proximity_state gauge
bender_cc_type2_proximity_state{state="13"} 0
bender_cc_type2_proximity_state{state="20"} 0
bender_cc_type2_proximity_state{state="32"} 0
bender_cc_type2_proximity_state{state="63"} 0
bender_cc_type2_proximity_state{state="cable_attached"} 0
bender_cc_type2_proximity_state{state="no_cable"} 1
bender_cc_type2_proximity_state{state="short_circuit"} 0
`
	// Absent keys (meter, power, slave_state with its empty value) must export nothing.
	err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"bender_cc_error", "bender_cc_errors", "bender_cc_info", "bender_cc_mcb_state", "bender_cc_ocpp_state",
		"bender_cc_type2_proximity_state", "bender_cc_slave_ocpp_state", "bender_cc_meter_info",
		"bender_cc_power_watts", "bender_cc_cable_current_limit_amperes")
	if err != nil {
		t.Error(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	if _, err := reg.Gather(); err != nil {
		t.Errorf("pedantic gather: %v", err)
	}
}

func BenchmarkParse(b *testing.B) {
	body := fixture(b, "fw5.33_charging.txt")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCollect is parse plus building every const metric of a document.
func BenchmarkCollect(b *testing.B) {
	body := fixture(b, "fw5.33_charging.txt")
	b.ReportAllocs()
	ch := make(chan prometheus.Metric, 256)
	for b.Loop() {
		st, err := Parse(body)
		if err != nil {
			b.Fatal(err)
		}
		New(Result{State: st}).Collect(ch)
		for len(ch) > 0 {
			<-ch
		}
	}
}
