package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"slices"

	config_util "github.com/prometheus/common/config"

	"github.com/bender-cc/bender_cc_exporter/collector"
)

// The sources a module can read a controller from.
const (
	SourceREST   = "rest"   // GET /rest/full_state (the default)
	SourceModbus = "modbus" // Modbus TCP holding registers
)

// Sources is a module's source: one name or a list of names in the file.
type Sources []string

// UnmarshalYAML accepts "source: modbus" and "source: [rest, modbus]".
func (s *Sources) UnmarshalYAML(unmarshal func(any) error) error {
	var one string
	if err := unmarshal(&one); err == nil {
		*s = Sources{one}
		return nil
	}
	var many []string
	if err := unmarshal(&many); err != nil {
		return errors.New("source must be rest, modbus or a list of them")
	}
	*s = many
	return nil
}

// Has says whether the module reads from source.
func (s Sources) Has(source string) bool { return slices.Contains(s, source) }

// ModbusConfig is how a module reads a controller's Modbus TCP server.
type ModbusConfig struct {
	// UnitID addresses the controller (1-255; 255 by default). AMTRON 4You
	// boxes need 1.
	UnitID int `yaml:"unit_id,omitempty"`
	// Port is the Modbus TCP port when the target names none (502).
	Port int `yaml:"port,omitempty"`
}

// DefaultModbusUnitID is the unit id integrations use unless told otherwise.
const DefaultModbusUnitID = 255

func (m *Module) validateSource() error {
	if len(m.Source) == 0 {
		m.Source = Sources{SourceREST}
	}
	for i, s := range m.Source {
		if s != SourceREST && s != SourceModbus {
			return fmt.Errorf("source %q: want rest, modbus or [rest, modbus]", s)
		}
		if slices.Contains(m.Source[:i], s) {
			return fmt.Errorf("source %q listed twice", s)
		}
	}
	if !m.Source.Has(SourceModbus) {
		if m.Modbus != nil {
			return errors.New("modbus settings need source: modbus or [rest, modbus]")
		}
		return nil
	}
	if m.Modbus == nil {
		m.Modbus = &ModbusConfig{}
	}
	if m.Modbus.UnitID == 0 {
		m.Modbus.UnitID = DefaultModbusUnitID
	}
	if m.Modbus.Port == 0 {
		m.Modbus.Port = collector.DefaultModbusPort
	}
	switch {
	case m.Modbus.UnitID < 1 || m.Modbus.UnitID > 255:
		return fmt.Errorf("modbus.unit_id %d: want 1-255", m.Modbus.UnitID)
	case m.Modbus.Port < 1 || m.Modbus.Port > 65535:
		return fmt.Errorf("modbus.port %d: want 1-65535", m.Modbus.Port)
	case !m.Source.Has(SourceREST) && (m.Username != "" || m.Password != "" || m.PasswordFile != "" || m.PasswordEnv != ""):
		return errors.New("credentials need source rest: Modbus TCP has none")
	case !m.Source.Has(SourceREST) && !reflect.DeepEqual(m.HTTPClientConfig, config_util.DefaultHTTPClientConfig):
		return errors.New("http_client_config needs source rest: a Modbus module uses no HTTP (no TLS, no proxy)")
	}
	return nil
}

// ParseTarget turns a probe target of the module into the URLs it reads:
// rest, the controller's base URL (nil without the REST source), and
// modbus, modbus://host:port (nil without the Modbus source). With both
// sources the target is a REST target and the Modbus port is the module's.
func (m *Module) ParseTarget(target string) (rest, modbus *url.URL, err error) {
	if !m.Source.Has(SourceModbus) {
		rest, err = collector.ParseTarget(target)
		return rest, nil, err
	}
	port := collector.DefaultModbusPort
	if m.Modbus != nil {
		port = m.Modbus.Port
	}
	if !m.Source.Has(SourceREST) {
		modbus, err = collector.ParseModbusTarget(target, port)
		return nil, modbus, err
	}
	if rest, err = collector.ParseTarget(target); err != nil {
		return nil, nil, fmt.Errorf("%w (a module with source [rest, modbus] takes the REST address; the Modbus port is its modbus.port)", err)
	}
	modbus = &url.URL{Scheme: collector.ModbusScheme, Host: net.JoinHostPort(rest.Hostname(), fmt.Sprint(port))}
	return rest, modbus, nil
}

// ModbusDialer returns what a Modbus probe of the module dials with: the
// dialer of the module's HTTP client, which connects only to addresses the
// policy allows (a host name is resolved and checked, then the checked
// address dialled) and counts the connection among the module's open ones.
func (s *Snapshot) ModbusDialer(module string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if cc := s.caps[module]; cc != nil {
		return cc.dial
	}
	if s.Policy != nil {
		return s.Policy.dialer(module)
	}
	var d net.Dialer
	return d.DialContext
}
