package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bender-cc/bender_cc_exporter/config"
	"github.com/bender-cc/bender_cc_exporter/internal/testenv"
	"github.com/bender-cc/bender_cc_exporter/probe"
)

const (
	knownPassword = "K3ep-Out-Of-Logs"
	envPassword   = "Env-Secret-42"
	authUID       = "04a1b2c3d4e5f6" // in testdata/fw5.33_charging.txt
)

// TestSecretsNeverLeak: the password (from a file or the environment) and
// the RFID card UID appear in no log line (at debug level), no answer of any
// endpoint, no error message and no metric.
func TestSecretsNeverLeak(t *testing.T) {
	body, err := os.ReadFile("testdata/fw5.33_charging.txt")
	if err != nil {
		t.Fatal(err)
	}
	ctl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.Header.Get("Password"); p != knownPassword && p != envPassword {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write(body)
	}))
	defer ctl.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte(knownPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BENDER_CC_TEST_PASSWORD", envPassword)
	path := filepath.Join(dir, "c.yml")
	cfg := fmt.Sprintf(`modules:
  operator: {username: operator, password_file: pw}
  fromenv: {username: operator, password_env: BENDER_CC_TEST_PASSWORD}
  wrong: {username: operator, password: not-it}
targets:
  - {name: garage, address: '%s', module: operator}
`, ctl.URL)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	mux, logs := debugExporter(t, path)
	var answers strings.Builder
	for i, p := range []string{
		"/probe?target=garage", "/probe?target=garage&debug=true",
		"/probe?target=" + ctl.URL + "&module=fromenv", "/probe?target=" + ctl.URL + "&module=fromenv&debug=true",
		"/probe?target=garage&module=wrong", "/probe?target=garage&module=wrong&debug=true",
		"/probe?target=http://operator:" + knownPassword + "@127.0.0.1", "/probe?target=garage&module=nope",
		"/", "/metrics", "/-/healthy",
	} {
		code, out := get(t, mux, http.MethodGet, p)
		fmt.Fprintf(&answers, "request %d: %d\n%s\n", i, code, out) // not p: one holds the password
	}
	if code, out := get(t, mux, http.MethodPost, "/-/reload"); code != 200 {
		t.Fatalf("reload: %d %s", code, out)
	}
	if !strings.Contains(answers.String(), "\nbender_cc_up 1") || !strings.Contains(answers.String(), "Password: <redacted>") {
		t.Fatalf("the probes did not run as meant:\n%s", answers.String())
	}
	for _, secret := range []string{knownPassword, envPassword, "not-it", authUID} {
		if i := strings.Index(logs.String(), secret); i >= 0 {
			t.Errorf("log shows %q: …%s…", secret, logs.String()[max(0, i-200):i+len(secret)])
		}
		// The credentials-in-URL request is refused; its error must not echo the password either.
		if i := strings.Index(answers.String(), secret); i >= 0 {
			t.Errorf("an answer shows %q: …%s…", secret, answers.String()[max(0, i-200):i+len(secret)])
		}
	}
}

// TestReloadUnderLoad: 1,000 probes in flight while the config is reloaded
// several times, valid and invalid: no probe fails, the new modules work,
// the invalid files are rejected with a log line and the reload metric.
func TestReloadUnderLoad(t *testing.T) {
	body, err := os.ReadFile("testdata/fw5.22.1_mennekes.txt")
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int64
	ctl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		time.Sleep(20 * time.Millisecond)
		_, _ = w.Write(body)
	}))
	defer ctl.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("modules: {default: {timeout: 5s}}")
	logs := &testenv.LogBuffer{}
	reg := prometheus.NewRegistry()
	holder := config.NewHolder(path, "test", reg)
	if err := holder.Reload(); err != nil {
		t.Fatal(err)
	}
	mux, err := routes(holder, reg, &probe.Handler{Config: holder, Logger: log.NewLogfmtLogger(logs), TimeoutOffset: 500 * time.Millisecond, Metrics: probe.NewMetrics(reg)}, log.NewLogfmtLogger(logs), path)
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(rand.IntN(600)) * time.Millisecond)
			// Half the probes go to a target whose path differs, so that they
			// are not all one shared request.
			target := ctl.URL
			if i%2 == 1 {
				target = fmt.Sprintf("%s/p%d", ctl.URL, i%50)
			}
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/probe?target="+target, nil))
			if w.Code != 200 || !strings.Contains(w.Body.String(), "bender_cc_up 1\n") {
				failed.Add(1)
			}
		}()
	}
	steps := []struct {
		cfg string
		ok  bool
	}{
		{"modules: {default: {timeout: 5s}, b: {timeout: 4s}}", true},
		{"modules: {default: {timeout: [5s]}}", false},
		{"modules: {default: {timeout: 5s}, b: {timeout: 4s}, c: {timeout: 3s}}", true},
		{"modules: {default: {timout: 5s}}", false},
		{"modules: {default: {timeout: 6s}, c: {timeout: 3s}, d: {timeout: 2s}}", true},
	}
	for _, s := range steps {
		time.Sleep(100 * time.Millisecond)
		write(s.cfg)
		code, out := get(t, mux, http.MethodPost, "/-/reload")
		if (code == 200) != s.ok {
			t.Errorf("reload of %q: %d %s", s.cfg, code, out)
		}
		if got := testutil.ToFloat64(holder.ReloadSuccessGauge()); got != map[bool]float64{true: 1, false: 0}[s.ok] {
			t.Errorf("after reload of %q: last_reload_successful %v", s.cfg, got)
		}
	}
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of 1,000 probes failed during reloads", n)
	}
	if n := strings.Count(logs.String(), "Error reloading config, keeping the old one"); n != 2 {
		t.Errorf("%d reload errors logged, want 2", n)
	}
	if code, out := get(t, mux, http.MethodGet, "/probe?target="+ctl.URL+"&module=d"); code != 200 || !strings.Contains(out, "\nbender_cc_up 1") {
		t.Errorf("module d of the last config: %d %s", code, out)
	}
	if code, _ := get(t, mux, http.MethodGet, "/probe?target="+ctl.URL+"&module=b"); code != 400 {
		t.Errorf("module b was removed by the last reload, yet: %d", code)
	}
	t.Logf("1,000 probes, %d requests to the controller", requests.Load())
}

// debugExporter is the exporter's routes with the config file at path,
// logging everything (debug level) to the returned buffer.
func debugExporter(t *testing.T, path string) (*http.ServeMux, *testenv.LogBuffer) {
	t.Helper()
	logs := &testenv.LogBuffer{}
	logger := level.NewFilter(log.NewLogfmtLogger(logs), level.AllowDebug())
	reg := prometheus.NewRegistry()
	holder := config.NewHolder(path, "test", reg)
	if err := holder.Reload(); err != nil {
		t.Fatal(err)
	}
	mux, err := routes(holder, reg, &probe.Handler{Config: holder, Logger: logger, TimeoutOffset: 500 * time.Millisecond, Metrics: probe.NewMetrics(reg)}, logger, path)
	if err != nil {
		t.Fatal(err)
	}
	return mux, logs
}

// TestEchoedPasswordNeverLeaks: a hostile (allowed) controller that puts
// the Password header it received into its answer — as a state, an
// identity, an error code, a key, a line that is no key:value, a value
// that does not parse, a body that is not full_state, an unparseable
// redirect — gets it into no output: the probe, the debug view, the log at
// debug level, /metrics.
func TestEchoedPasswordNeverLeaks(t *testing.T) {
	const pw = `s3cret-PASS"/?x`
	var mode atomic.Int64
	ctl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.Header.Get("Password")
		switch mode.Load() {
		case 0:
			_, _ = fmt.Fprintf(w, "conn_state:%[1]s\nocpp_state:%[1]s\ncp_id:%[1]s\ncp_vendor:x%[1]sy\nerrors:%[1]s,other_%[1]s,%[1]s\npower_w:%[1]s\nmeter_wh:1\n", p)
		case 4:
			_, _ = fmt.Fprintf(w, "conn_state:idle\nsome_key_%[1]s:1\n%[1]s:1\n%[1]s\n", p)
		case 1:
			_, _ = fmt.Fprintf(w, `{"password": %q}`, p)
		case 2:
			w.Header().Set("Location", "http://[::1%25"+p+"/")
			w.WriteHeader(http.StatusFound)
		case 3:
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = fmt.Fprintf(w, "<html>wrong password %s</html>", p)
		}
	}))
	defer ctl.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "c.yml")
	if err := os.WriteFile(path, []byte("modules: {operator: {username: operator, password_file: pw}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mux, logs := debugExporter(t, path)
	var answers strings.Builder
	for m := range int64(5) {
		mode.Store(m)
		for _, p := range []string{"/probe?module=operator&target=" + ctl.URL, "/probe?module=operator&debug=true&target=" + ctl.URL} {
			code, out := get(t, mux, http.MethodGet, p)
			fmt.Fprintf(&answers, "mode %d %s: %d\n%s\n", m, p, code, out)
		}
	}
	_, out := get(t, mux, http.MethodGet, "/metrics")
	answers.WriteString(out)
	if !strings.Contains(answers.String(), `bender_cc_connection_state{state="<redacted>"} 1`) {
		t.Fatalf("the hostile controller was not probed as meant:\n%s", answers.String())
	}
	all := answers.String() + logs.String()
	for _, form := range []string{"s3cret", `s3cret-PASS\"`, "s3cret-PASS%22"} {
		if i := strings.Index(all, form); i >= 0 {
			t.Errorf("output shows the password (%q): …%s…", form, all[max(0, i-300):min(len(all), i+100)])
		}
	}
}
