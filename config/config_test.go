package config

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExampleParses(t *testing.T) {
	data, err := os.ReadFile("../config.yml.example")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The example points at an absolute password file; give it one here.
	write(t, dir, "operator.password", "secret\n")
	cfg := strings.ReplaceAll(string(data), "/etc/bender_cc_exporter/operator.password", filepath.Join(dir, "operator.password"))
	c, err := Load(write(t, dir, "config.yml", cfg))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ReadSecrets(); err != nil {
		t.Fatal(err)
	}
	if len(c.Modules) != 2 || len(c.Targets) != 2 {
		t.Errorf("modules %d, targets %d; want 2 and 2", len(c.Modules), len(c.Targets))
	}
	op := c.Modules["operator"]
	if cr := op.Credentials(); cr == nil || cr.Username != "operator" || cr.Password != "secret" {
		t.Errorf("operator credentials: %+v", cr)
	}
	if time.Duration(op.Timeout) != 5*time.Second || op.HTTPClientConfig.FollowRedirects {
		t.Errorf("operator module: %+v", op)
	}
	if c.Modules["default"].Credentials() != nil {
		t.Error("default module has credentials")
	}
	if tg, ok := c.Target("depot-7"); !ok || tg.Labels["site"] != "depot" {
		t.Errorf("target depot-7: %+v", tg)
	}
}

func TestNoFileGivesDefaultModule(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	m := c.Modules[DefaultModule]
	if m == nil || time.Duration(m.Timeout) != DefaultTimeout || !m.HTTPClientConfig.FollowRedirects {
		t.Errorf("default module: %+v", m)
	}
}

func TestModuleDefaults(t *testing.T) {
	c, err := Load(write(t, t.TempDir(), "c.yml", "modules:\n  fast: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.Modules["fast"].Timeout) != DefaultTimeout || c.Modules[DefaultModule] == nil {
		t.Errorf("defaults not applied: %+v", c.Modules)
	}
}

func TestInvalidConfigs(t *testing.T) {
	for _, tt := range []struct{ name, yaml, msg string }{
		{"unknown field names the line", "modules:\n  default:\n    timeout: 5s\n    pasword: x\n", `line 4: modules.default: unknown field "pasword" (did you mean "password"?); valid fields: username, password, password_file, password_env, timeout, http_client_config`},
		{"unknown field, swapped letters", "modules:\n  default:\n    timeuot: 5s\n", `line 3: modules.default: unknown field "timeuot" (did you mean "timeout"?)`},
		{"unknown top-level field", "module: {}\n", `line 1: top level: unknown field "module" (did you mean "modules"?); valid fields: modules, targets, probe`},
		{"unknown field in flow style", "modules: {m: {http_client_config: {tls_config: {insecure_skip_veryfy: true}}}}", `line 1: modules.m.http_client_config.tls_config: unknown field "insecure_skip_veryfy" (did you mean "insecure_skip_verify"?)`},
		{"unknown inline field of http_client_config", "modules: {m: {http_client_config: {proxy_ulr: 'http://p'}}}", `modules.m.http_client_config: unknown field "proxy_ulr" (did you mean "proxy_url"?)`},
		{"unknown probe field", "probe:\n  allowed_target: [x]\n", `line 2: probe: unknown field "allowed_target" (did you mean "allowed_targets"?); valid fields: allowed_targets`},
		{"unknown target field", "targets:\n  - name: a\n    adress: x\n", `line 3: targets[0]: unknown field "adress" (did you mean "address"?); valid fields: name, address, module, labels`},
		{"no suggestion when nothing is close", "probe: {zzzzzzzz: 1}", `probe: unknown field "zzzzzzzz"; valid fields: allowed_targets`},
		{"bad duration", "modules: {default: {timeout: soon}}", `line 1: modules.default.timeout: not a valid duration string: "soon"`},
		{"bad duration in block style", "modules:\n  default:\n    timeout: 10\n", `line 3: modules.default.timeout: not a valid duration string: "10"`},
		{"zero timeout", "modules: {default: {timeout: 0s}}", "timeout must be positive"},
		{"both passwords", "modules: {m: {username: u, password: p, password_file: f}}", "at most one of password, password_file and password_env"},
		{"file and env", "modules: {m: {username: u, password_env: X, password_file: f}}", "at most one of"},
		{"password without user", "modules: {m: {password: p}}", "a password needs a username"},
		{"bad http client", "modules: {m: {http_client_config: {bearer_token: a, bearer_token_file: b}}}", "at most one of bearer_token & bearer_token_file"},
		{"target without name", "targets: [{address: 192.0.2.1}]", "name is required"},
		{"target twice", "targets: [{name: a, address: x}, {name: a, address: y}]", "defined twice"},
		{"target bad address", "targets: [{name: a, address: 'ftp://x'}]", "scheme must be http or https"},
		{"target unknown module", "targets: [{name: a, address: x, module: m}]", `unknown module "m"`},
		{"target label clash", "targets: [{name: a, address: x, labels: {state: x}}]", `label "state" is used`},
		{"target bad label", "targets: [{name: a, address: x, labels: {'a-b': x}}]", "invalid label name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(write(t, t.TempDir(), "c.yml", tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %v, want an error saying %q", err, tt.msg)
			}
		})
	}
}

func TestFailedReloadKeepsOldConfig(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "c.yml", "modules: {a: {timeout: 3s}}")
	reg := prometheus.NewRegistry()
	h := NewHolder(path, "test", reg)
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	first := h.Get()
	if testutil.ToFloat64(h.reloadOK) != 1 || testutil.ToFloat64(h.reloadTime) == 0 {
		t.Error("reload metrics not set after a good load")
	}

	write(t, dir, "c.yml", "modules: {a: {timeout: nonsense}}")
	if err := h.Reload(); err == nil {
		t.Fatal("invalid config accepted")
	}
	if h.Get() != first || h.Get().Modules["a"] == nil || h.Get().Client("a") == nil {
		t.Error("failed reload replaced the config")
	}
	if testutil.ToFloat64(h.reloadOK) != 0 {
		t.Error("bender_cc_exporter_config_last_reload_successful not 0 after a failed reload")
	}

	write(t, dir, "c.yml", "modules: {b: {timeout: 2s}}")
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	if h.Get().Modules["b"] == nil || h.Get().Modules["a"] != nil || testutil.ToFloat64(h.reloadOK) != 1 {
		t.Error("good reload did not take effect")
	}
}

// TestUnreadableSecretFailsItsModuleOnly: a module whose password_file is
// missing loads (so that the other modules work), says why, and fails only
// its own probes; ReadSecrets reports it (--config.check fails on it).
func TestUnreadableSecretFailsItsModuleOnly(t *testing.T) {
	h := NewHolder(write(t, t.TempDir(), "c.yml", "modules: {m: {username: u, password_file: /nonexistent/pw}, n: {}}"), "test", nil)
	if err := h.Reload(); err != nil {
		t.Fatalf("a missing password file stopped the whole config: %v", err)
	}
	err := h.Get().Modules["m"].SecretError()
	if !errors.Is(err, ErrSecret) || !strings.Contains(err.Error(), `module "m": cannot read its password: reading password_file: open /nonexistent/pw`) {
		t.Errorf("SecretError: %v", err)
	}
	if h.Get().Modules["n"].SecretError() != nil || h.Get().Modules["default"].SecretError() != nil {
		t.Error("modules without secrets have a secret error")
	}
}

func TestMissingPasswordFile(t *testing.T) {
	c, err := Load(write(t, t.TempDir(), "c.yml", "modules: {m: {username: u, password_file: /nonexistent/pw}}"))
	if err != nil {
		t.Fatalf("Load reads no secrets, yet: %v", err)
	}
	if err := c.ReadSecrets(); err == nil || !strings.Contains(err.Error(), `module "m": cannot read its password: reading password_file`) {
		t.Errorf("ReadSecrets: %v", err)
	}
}

func TestPasswordFileReReadOnReload(t *testing.T) {
	dir := t.TempDir()
	pw := write(t, dir, "pw", "one\n")
	h := NewHolder(write(t, dir, "c.yml", "modules: {m: {username: u, password_file: pw}}"), "test", nil)
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := h.Get().Modules["m"].Credentials().Password; got != "one" {
		t.Fatalf("password %q from a file relative to the config", got)
	}
	write(t, dir, "pw", "two")
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := h.Get().Modules["m"].Credentials().Password; got != "two" || pw == "" {
		t.Errorf("after reload password %q, want two", got)
	}
}

func TestPasswordFromEnvironment(t *testing.T) {
	c, err := Load(write(t, t.TempDir(), "c.yml", "modules: {m: {username: u, password_env: BENDER_CC_TEST_PW}}"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ReadSecrets(); err == nil || !strings.Contains(err.Error(), "BENDER_CC_TEST_PW is not set") {
		t.Errorf("unset variable: %v", err)
	}
	t.Setenv("BENDER_CC_TEST_PW", "from-env")
	if err := c.ReadSecrets(); err != nil || c.Modules["m"].Credentials().Password != "from-env" {
		t.Errorf("password_env: %v %+v", err, c.Modules["m"].Credentials())
	}
}

func TestPolicyConfig(t *testing.T) {
	for _, tt := range []struct{ yaml, err string }{
		{"probe: {allowed_targets: [192.0.2.0/24, 198.51.100.7, 2001:db8::/32, cc.example.net]}", ""},
		{"probe: {allowed_targets: ['http://x/']}", "is not a target name, network, address or host name"},
		{"probe: {allowed_targets: [garage]}\ntargets: [{name: garage, address: 'http://192.0.2.50'}]", ""},
		{"probe: {allowed_taregts: [x]}", `probe: unknown field "allowed_taregts" (did you mean "allowed_targets"?)`},
	} {
		_, err := Load(write(t, t.TempDir(), "c.yml", tt.yaml))
		if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: got %v, want %q", tt.yaml, err, tt.err)
		}
	}
}

// TestPolicyLookups: a caller's host name is looked up only when the
// policy has networks to compare its addresses with; a refusal does not
// say what it resolved to, and a lookup error does not name the resolver.
func TestPolicyLookups(t *testing.T) {
	var lookups atomic.Int64
	old := resolver
	resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		lookups.Add(1)
		return nil, &net.OpError{Op: "dial", Net: network, Addr: &net.UDPAddr{IP: net.IPv4(192, 0, 2, 53), Port: 53}, Err: errors.New("refused")}
	}}
	t.Cleanup(func() { resolver = old })
	load := func(yml string) *Policy {
		c, err := Load(write(t, t.TempDir(), "c.yml", yml))
		if err != nil {
			t.Fatal(err)
		}
		p, _ := c.compilePolicy()
		return p
	}
	u, _ := url.Parse("http://evil.example:80")

	names := load("probe: {allowed_targets: [cc.example.net]}")
	if err := names.CheckURL(context.Background(), u, "default"); !errors.Is(err, ErrNotAllowed) || lookups.Load() != 0 {
		t.Errorf("names only: %v after %d lookups, want a refusal without a lookup", err, lookups.Load())
	}
	nets := load("probe: {allowed_targets: [192.0.2.0/24]}")
	err := nets.CheckURL(context.Background(), u, "default")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || lookups.Load() == 0 {
		t.Errorf("with networks: %v after %d lookups, want a DNS error after a lookup", err, lookups.Load())
	}
	if err != nil && (strings.Contains(err.Error(), "192.0.2.53") || strings.Contains(err.Error(), ":53")) {
		t.Errorf("the error names the resolver: %v", err)
	}
}

// TestReloadsAreSerialized: a reload that read the file before it changed
// cannot install that older version after a later reload installed the
// newer one (SIGHUP and /-/reload at the same time).
func TestReloadsAreSerialized(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "c.yml", "modules: {old: {}}")
	h := NewHolder(path, "test", nil)
	read, release := make(chan struct{}), make(chan struct{})
	first := true
	h.afterLoad = func() {
		if first {
			first = false
			close(read)
			<-release
		}
	}
	slow := make(chan error)
	go func() { slow <- h.Reload() }() // reads "old", then waits
	<-read
	write(t, dir, "c.yml", "modules: {new: {}}")
	fast := make(chan error)
	go func() { fast <- h.Reload() }() // reads "new"
	fastDone := false
	select {
	case err := <-fast: // it did not wait for the reload in progress
		fastDone = true
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
	if !fastDone {
		if err := <-fast; err != nil {
			t.Fatal(err)
		}
	}
	if h.Get().Modules["new"] == nil {
		t.Errorf("the older file was installed last: %v", h.Get().ModuleNames())
	}
}
