package probe

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bender-cc/bender_cc_exporter/collector"
	"github.com/bender-cc/bender_cc_exporter/config"
)

// TestClassify covers the causes the failure matrix cannot stage on
// loopback: unreachable networks, resets, a host name that moved out of
// probe.allowed_targets, TLS alerts.
func TestClassify(t *testing.T) {
	dial := func(err error) error {
		return &url.Error{Op: "Get", URL: "http://192.0.2.1/rest/full_state", Err: &net.OpError{Op: "dial", Net: "tcp", Err: err}}
	}
	for _, tt := range []struct {
		err  error
		want string
	}{
		{nil, ResultSuccess},
		{dial(syscall.EHOSTUNREACH), ResultConnectionFailed},
		{dial(syscall.ENETUNREACH), ResultConnectionFailed},
		{dial(errors.New("something new")), ResultConnectionFailed},
		{&url.Error{Op: "Get", Err: &net.OpError{Op: "read", Err: syscall.ECONNRESET}}, ResultConnectionFailed},
		{&url.Error{Op: "Get", Err: io.EOF}, ResultConnectionFailed},
		{dial(fmt.Errorf("host cc.example.net resolves to [10.0.0.1], %w", config.ErrNotAllowed)), ResultNotAllowed},
		{&url.Error{Op: "Get", Err: fmt.Errorf("%w: http://10.0.0.1: address 10.0.0.1 is %w", config.ErrRedirect, config.ErrNotAllowed)}, ResultRedirectRefused},
		{&url.Error{Op: "Get", Err: tls.AlertError(42)}, ResultTLS},
		{&url.Error{Op: "Get", Err: tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}}, ResultTLS},
		{fmt.Errorf("%w after 10 bytes: %w: %w", collector.ErrTruncated, collector.ErrTimeout, os.ErrDeadlineExceeded), ResultTimeout},
		{&collector.StatusError{Code: 502}, ResultHTTPStatus},
		{errors.New("unexpected"), ResultOther},
	} {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestMetricsExposition: after probes that succeed, fail and are refused,
// the exporter's registry shows each outcome under its module, the
// histogram, in-flight back at 0, the refusals, and never a target.
func TestMetricsExposition(t *testing.T) {
	ok := controller(t, mustRead(t, "../testdata/fw5.22.1_mennekes.txt"))
	slow := failing(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
		http.NotFound(w, r)
	})
	reg := prometheus.NewRegistry()
	h, _ := newHandler(t, "modules: {default: {timeout: 5s}, operator: {username: operator, password: secret}}")
	h.Metrics = NewMetrics(reg)
	h.Metrics.InitModules(h.Config.Get().ModuleNames())

	done := make(chan struct{})
	go func() {
		defer close(done)
		probe(t, h, "target="+slow+"&module=operator", nil)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(h.Metrics.inFlight) != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := testutil.ToFloat64(h.Metrics.inFlight); n != 1 {
		t.Errorf("in flight during a slow probe: %g, want 1", n)
	}
	<-done
	probe(t, h, "target="+ok.URL, nil)
	probe(t, h, "target="+ok.URL+"&module=operator", nil)
	probe(t, h, "target="+refusedAddr(t), nil)
	probe(t, h, "", nil)
	probe(t, h, "target="+ok.URL+"&module=nope", nil)
	probe(t, h, "target=ftp://cc", nil)

	var b strings.Builder
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
			fmt.Fprintf(&b, "%s{%s} %g\n", mf.GetName(), strings.Join(ls, ","), v)
		}
	}
	got := b.String()
	for _, want := range []string{
		"bender_cc_exporter_probes_total{module=default,result=success} 1\n",
		"bender_cc_exporter_probes_total{module=default,result=connection_failed} 1\n",
		"bender_cc_exporter_probes_total{module=operator,result=success} 1\n",
		"bender_cc_exporter_probes_total{module=operator,result=rest_disabled} 1\n",
		"bender_cc_exporter_probes_total{module=operator,result=timeout} 0\n",
		"bender_cc_exporter_probe_duration_seconds{module=default} 2\n",
		"bender_cc_exporter_probe_duration_seconds{module=operator} 2\n",
		"bender_cc_exporter_probes_in_flight{} 0\n",
		"bender_cc_exporter_probes_shared_total{module=default} 0\n",
		"bender_cc_exporter_probe_requests_refused_total{reason=bad_request} 2\n",
		"bender_cc_exporter_probe_requests_refused_total{reason=unknown_module} 1\n",
		"bender_cc_exporter_probe_requests_refused_total{reason=not_allowed} 0\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if n := strings.Count(got, "bender_cc_exporter_probes_total{"); n != 2*len(Results) {
		t.Errorf("%d probes_total series, want %d (2 modules × %d results)", n, 2*len(Results), len(Results))
	}
	if regexp.MustCompile(`target=|127\.0\.0\.1`).MatchString(got) {
		t.Errorf("a target leaked into the exporter's metrics:\n%s", got)
	}
	// Classic buckets from 5 ms to 30 s, and a native histogram beside them.
	for _, mf := range mfs {
		if mf.GetName() != "bender_cc_exporter_probe_duration_seconds" {
			continue
		}
		hist := mf.GetMetric()[0].GetHistogram()
		bs := hist.GetBucket()
		if len(bs) != 12 || bs[0].GetUpperBound() != 0.005 || bs[len(bs)-1].GetUpperBound() != 30 {
			t.Errorf("classic buckets: %v", bs)
		}
		if hist.GetSchema() == 0 && hist.GetZeroThreshold() == 0 {
			t.Errorf("no native histogram: schema %d, zero threshold %g", hist.GetSchema(), hist.GetZeroThreshold())
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
