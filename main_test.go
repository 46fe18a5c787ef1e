package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"

	"github.com/bender-cc/bender_cc_exporter/config"
	"github.com/bender-cc/bender_cc_exporter/probe"
)

func get(t *testing.T, h http.Handler, method, path string) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	return w.Code, w.Body.String()
}

func TestRoutesAndReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yml")
	if err := os.WriteFile(path, []byte("modules: {a: {timeout: 3s}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(versioncollector.NewCollector(exporterName))
	holder := config.NewHolder(path, "test", reg)
	if err := holder.Reload(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	mux, err := routes(holder, reg, &probe.Handler{Config: holder, Logger: log.NewLogfmtLogger(&logs), TimeoutOffset: 500 * time.Millisecond, Metrics: probe.NewMetrics(reg)}, log.NewLogfmtLogger(&logs), path)
	if err != nil {
		t.Fatal(err)
	}

	for _, p := range []string{"/-/healthy", "/-/ready", "/"} {
		if code, _ := get(t, mux, http.MethodGet, p); code != http.StatusOK {
			t.Errorf("GET %s: %d", p, code)
		}
	}
	_, metrics := get(t, mux, http.MethodGet, "/metrics")
	for _, want := range []string{"bender_cc_exporter_build_info{", "bender_cc_exporter_config_last_reload_successful 1",
		`bender_cc_exporter_controller_connections{module="a"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code, _ := get(t, mux, http.MethodGet, "/-/reload"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload: %d, want 405", code)
	}

	if err := os.WriteFile(path, []byte("modules: {a: {timeot: 3s}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, body := get(t, mux, http.MethodPost, "/-/reload")
	if code != http.StatusInternalServerError || !strings.Contains(body, "timeot") {
		t.Errorf("bad reload: %d %q", code, body)
	}
	if _, metrics = get(t, mux, http.MethodGet, "/metrics"); !strings.Contains(metrics, "bender_cc_exporter_config_last_reload_successful 0") {
		t.Error("failed reload not reported in /metrics")
	}
	if !strings.Contains(logs.String(), "keeping the old one") {
		t.Errorf("failed reload not logged: %s", logs.String())
	}
	if code, body = get(t, mux, http.MethodGet, "/probe?target=127.0.0.1:1&module=a"); code != http.StatusOK || !strings.Contains(body, "bender_cc_up 0") {
		t.Errorf("old module a gone after a failed reload: %d %s", code, body)
	}

	if err := os.WriteFile(path, []byte("modules: {b: {timeout: 3s}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, mux, http.MethodPost, "/-/reload"); code != http.StatusOK {
		t.Errorf("good reload: %d", code)
	}
	if code, _ := get(t, mux, http.MethodGet, "/probe?target=127.0.0.1:1&module=b"); code != http.StatusOK {
		t.Errorf("new module b not usable after reload: %d", code)
	}
}

func TestVersionAndConfigCheck(t *testing.T) {
	var out bytes.Buffer
	// The example names a password file that is not on this machine: the
	// check fails on it, and checks the structure alone when told to.
	if code := run([]string{"--config.file=config.yml.example", "--config.check"}, &out); code != 1 ||
		!strings.Contains(out.String(), "secrets cannot be read") || !strings.Contains(out.String(), "operator.password") {
		t.Errorf("config.check of the example without its password file: exit %d\n%s", code, out.String())
	}
	out.Reset()
	if code := run([]string{"--config.file=config.yml.example", "--config.check", "--no-config.check-secrets"}, &out); code != 0 {
		t.Errorf("structure-only config.check of the example: exit %d\n%s", code, out.String())
	}
	out.Reset()
	pw := filepath.Join(t.TempDir(), "pw")
	_ = os.WriteFile(pw, []byte("secret\n"), 0o600)
	good := filepath.Join(t.TempDir(), "good.yml")
	_ = os.WriteFile(good, []byte("modules: {op: {username: operator, password_file: "+pw+"}}"), 0o600)
	if code := run([]string{"--config.file=" + good, "--config.check"}, &out); code != 0 || !strings.Contains(out.String(), "Configuration is valid") {
		t.Errorf("config.check with a readable secret: exit %d\n%s", code, out.String())
	}
	out.Reset()
	bad := filepath.Join(t.TempDir(), "bad.yml")
	_ = os.WriteFile(bad, []byte("modules: {default: {timeout: -1s}}"), 0o600)
	if code := run([]string{"--config.file=" + bad, "--config.check"}, &out); code != 1 || !strings.Contains(out.String(), "Configuration is invalid") {
		t.Errorf("config.check of a bad file: exit %d\n%s", code, out.String())
	}
}

// TestQuickStartConfigRuns: the README's quick start runs the exporter
// with config.yml.example as it is; its operator module, whose password
// file is not here, fails its own probes and says why, in the log and in
// the probe.
func TestQuickStartConfigRuns(t *testing.T) {
	var out bytes.Buffer
	logger, _ := newLogger(&out, "info", "logfmt")
	holder := config.NewHolder("config.yml.example", "test", nil)
	if err := holder.Reload(); err != nil {
		t.Fatalf("the example does not load: %v", err)
	}
	logLoaded(logger, holder, "config.yml.example", "Loaded config file")
	if s := out.String(); !strings.Contains(s, "level=warn") || !strings.Contains(s, "module=operator") || !strings.Contains(s, "operator.password") {
		t.Errorf("the unusable module is not named in the log:\n%s", s)
	}
	ctl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		t.Error("a module without its password sent a request")
	}))
	defer ctl.Close()
	ph := &probe.Handler{Config: holder, Logger: logger, Metrics: probe.NewMetrics(nil)}
	r := httptest.NewRequest(http.MethodGet, "/probe?module=operator&target=depot-7", nil)
	w := httptest.NewRecorder()
	ph.ServeHTTP(w, r)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `bender_cc_up{chargepoint="7",site="depot"} 0`) || !strings.Contains(out.String(), "cannot read its password") {
		t.Errorf("probe with the unusable module: %d %s\n%s", w.Code, w.Body.String(), out.String())
	}
}

func TestLogLines(t *testing.T) {
	var out bytes.Buffer
	logger, slogger := newLogger(&out, "info", "logfmt")
	slogger.Info("Listening on", "address", ":9955") // as exporter-toolkit logs
	if line := out.String(); strings.Count(line, "ts=") != 1 || strings.Contains(line, "time=") || !strings.Contains(line, `msg="Listening on"`) {
		t.Errorf("a bridged slog line wants exactly one timestamp: %s", line)
	}

	out.Reset()
	open := config.NewHolder("", "test", nil)
	if err := open.Reload(); err != nil {
		t.Fatal(err)
	}
	logLoaded(logger, open, "", "Loaded config file")
	if s := out.String(); !strings.Contains(s, "No config file given") || strings.Contains(s, "file=") ||
		!strings.Contains(s, "level=warn") || !strings.Contains(s, "probe.allowed_targets is not set") {
		t.Errorf("no config file, open /probe: %s", s)
	}

	out.Reset()
	path := filepath.Join(t.TempDir(), "c.yml")
	_ = os.WriteFile(path, []byte("probe: {allowed_targets: [192.0.2.0/24]}"), 0o600)
	closed := config.NewHolder(path, "test", nil)
	if err := closed.Reload(); err != nil {
		t.Fatal(err)
	}
	logLoaded(logger, closed, path, "Loaded config file")
	if s := out.String(); !strings.Contains(s, "file="+path) || strings.Contains(s, "level=warn") {
		t.Errorf("a config file with a policy: %s", s)
	}
}

// TestLandingPage: the page at / has a target field wide enough for its
// example, a debug checkbox and a link to the docs, and warns while /probe
// is open — also after a reload opens it.
func TestLandingPage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yml")
	_ = os.WriteFile(path, []byte("probe: {allowed_targets: [192.0.2.0/24]}"), 0o600)
	reg := prometheus.NewRegistry()
	holder := config.NewHolder(path, "test", reg)
	if err := holder.Reload(); err != nil {
		t.Fatal(err)
	}
	logger := log.NewNopLogger()
	mux, err := routes(holder, reg, &probe.Handler{Config: holder, Logger: logger}, logger, path)
	if err != nil {
		t.Fatal(err)
	}
	_, page := get(t, mux, http.MethodGet, "/")
	for _, want := range []string{`<input type="checkbox" name="debug" placeholder="" value="true">`, `input[type="text"] { width: 36em;`, `<a href="` + docsURL + `">`} {
		if !strings.Contains(page, want) {
			t.Errorf("landing page lacks %q", want)
		}
	}
	if strings.Contains(page, `href="/http`) {
		t.Error("an absolute link got the route prefix: it points back at the exporter")
	}
	if strings.Contains(page, "Warning:") {
		t.Error("landing page warns although /probe is restricted")
	}
	_ = os.WriteFile(path, []byte("modules: {default: {}}"), 0o600)
	if err := holder.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, page := get(t, mux, http.MethodGet, "/"); !strings.Contains(page, "<strong>Warning:</strong> <code>probe.allowed_targets</code> is not set") {
		t.Error("landing page does not warn while /probe is open")
	}
}
