// Package config holds the exporter's configuration file: its types, strict
// decoding and validation, and a holder that reloads it safely.
package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	config_util "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v2"

	"github.com/bender-cc/bender_cc_exporter/collector"
)

// DefaultModule is used when a probe names no module. It exists even without
// a config file.
const DefaultModule = "default"

// DefaultTimeout bounds a probe when the module sets no timeout.
const DefaultTimeout = 10 * time.Second

// Config is the whole configuration file.
type Config struct {
	Modules map[string]*Module `yaml:"modules"`
	Targets []*Target          `yaml:"targets,omitempty"`
	Probe   ProbeConfig        `yaml:"probe,omitempty"`
}

// Module is how to talk to a group of controllers: credentials, timeout and
// the HTTP client (TLS, proxy, ...).
type Module struct {
	Username         string                       `yaml:"username,omitempty"`
	Password         config_util.Secret           `yaml:"password,omitempty"`
	PasswordFile     string                       `yaml:"password_file,omitempty"`
	PasswordEnv      string                       `yaml:"password_env,omitempty"`
	Timeout          model.Duration               `yaml:"timeout,omitempty"`
	HTTPClientConfig config_util.HTTPClientConfig `yaml:"http_client_config,omitempty"`
	// Source is what the module reads: rest (the default), modbus, or both.
	Source Sources       `yaml:"source,omitempty"`
	Modbus *ModbusConfig `yaml:"modbus,omitempty"`

	password  string // resolved from Password, PasswordFile or PasswordEnv by ReadSecrets
	secretErr error  // why the password could not be resolved
}

// ErrSecret is wrapped by the error of a module whose password_file or
// password_env cannot be read: its probes fail without a connection.
var ErrSecret = errors.New("cannot read its password")

// SecretError says why the module's password could not be read, nil when
// it could (or the module has none).
func (m *Module) SecretError() error { return m.secretErr }

// Target is a named controller, probed as /probe?target=<Name>.
type Target struct {
	Name    string            `yaml:"name"`
	Address string            `yaml:"address"`
	Module  string            `yaml:"module,omitempty"`
	Labels  map[string]string `yaml:"labels,omitempty"`
}

// UnmarshalYAML sets the defaults of a module before decoding it.
func (m *Module) UnmarshalYAML(unmarshal func(any) error) error {
	*m = Module{Timeout: model.Duration(DefaultTimeout), HTTPClientConfig: config_util.DefaultHTTPClientConfig}
	type plain Module
	return unmarshal((*plain)(m))
}

// Credentials returns what the module sends to controllers, or nil when it
// has no username (then no credential headers are sent).
func (m *Module) Credentials() *collector.Credentials {
	if m.Username == "" {
		return nil
	}
	return &collector.Credentials{Username: m.Username, Password: m.password}
}

// reservedLabels are the labels the exporter's own metrics use; a target
// label with one of these names would clash.
var reservedLabels = []string{"state", "phase", "channel", "connector", "error",
	"vendor", "model", "firmware_version", "serial_number", "manufacturer_serial_number", "chargepoint_id",
	"meter_type", "meter_serial", "source", "register_set", "protocol_version"}

// Load reads and validates a config file; see ReadSecrets. An empty path gives the built-in
// configuration: the default module only.
func Load(path string) (*Config, error) {
	c := &Config{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if err := yaml.UnmarshalStrict(data, c); err != nil {
			return nil, fmt.Errorf("parsing %s: %w", path, explainYAML(data, err))
		}
	}
	if c.Modules == nil {
		c.Modules = map[string]*Module{}
	}
	if c.Modules[DefaultModule] == nil {
		c.Modules[DefaultModule] = &Module{Timeout: model.Duration(DefaultTimeout), HTTPClientConfig: config_util.DefaultHTTPClientConfig}
	}
	dir := filepath.Dir(path)
	for name, m := range c.Modules {
		if err := m.validate(dir); err != nil {
			return nil, fmt.Errorf("module %q: %w", name, err)
		}
	}
	if err := c.validateTargets(); err != nil {
		return nil, err
	}
	if _, err := c.compilePolicy(); err != nil {
		return nil, err
	}
	return c, nil
}

func (m *Module) validate(dir string) error {
	if m == nil {
		return errors.New("empty module")
	}
	if m.Timeout <= 0 {
		return errors.New("timeout must be positive")
	}
	if err := m.validateSource(); err != nil {
		return err
	}
	set := 0
	for _, s := range []string{string(m.Password), m.PasswordFile, m.PasswordEnv} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		return errors.New("at most one of password, password_file and password_env")
	}
	if m.Username == "" && set > 0 {
		return errors.New("a password needs a username")
	}
	if m.PasswordFile != "" && !filepath.IsAbs(m.PasswordFile) {
		m.PasswordFile = filepath.Join(dir, m.PasswordFile)
	}
	m.HTTPClientConfig.SetDirectory(dir)
	if err := m.HTTPClientConfig.Validate(); err != nil {
		return fmt.Errorf("http_client_config: %w", err)
	}
	return nil
}

func (c *Config) validateTargets() error {
	names := map[string]bool{}
	for i, t := range c.Targets {
		if t == nil || t.Name == "" {
			return fmt.Errorf("target %d: name is required", i+1)
		}
		if names[t.Name] {
			return fmt.Errorf("target %q: defined twice", t.Name)
		}
		names[t.Name] = true
		if t.Module == "" {
			t.Module = DefaultModule
		}
		if c.Modules[t.Module] == nil {
			return fmt.Errorf("target %q: unknown module %q", t.Name, t.Module)
		}
		if _, _, err := c.Modules[t.Module].ParseTarget(t.Address); err != nil {
			return fmt.Errorf("target %q: %w", t.Name, err)
		}
		for l := range t.Labels {
			if !model.LegacyValidation.IsValidLabelName(l) || strings.HasPrefix(l, "__") {
				return fmt.Errorf("target %q: invalid label name %q", t.Name, l)
			}
			for _, r := range reservedLabels {
				if l == r {
					return fmt.Errorf("target %q: label %q is used by the exporter's metrics", t.Name, l)
				}
			}
		}
	}
	return nil
}

// ReadSecrets reads every module's password_file or password_env. Load leaves this out so
// that a config can be checked where the secrets are not (a build machine);
// the Holder calls it on every (re)load, so a changed file is picked up. A
// module whose secret cannot be read keeps the error (SecretError) and fails
// its probes; the returned error joins those of all modules.
func (c *Config) ReadSecrets() error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(c.Modules)) {
		m := c.Modules[name]
		m.password, m.secretErr = m.readSecret()
		if m.secretErr != nil {
			m.secretErr = fmt.Errorf("module %q: %w: %w", name, ErrSecret, m.secretErr)
			errs = append(errs, m.secretErr)
		}
	}
	return errors.Join(errs...)
}

func (m *Module) readSecret() (string, error) {
	switch {
	case m.PasswordEnv != "":
		v, ok := os.LookupEnv(m.PasswordEnv)
		if !ok || v == "" {
			return "", fmt.Errorf("password_env: environment variable %s is not set", m.PasswordEnv)
		}
		return v, nil
	case m.PasswordFile != "":
		b, err := os.ReadFile(m.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("reading password_file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return string(m.Password), nil
}

// Target returns the configured target with that name.
func (c *Config) Target(name string) (*Target, bool) {
	for _, t := range c.Targets {
		if t.Name == name {
			return t, true
		}
	}
	return nil, false
}
