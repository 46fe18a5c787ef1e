package config

import (
	"net/url"
	"strings"
	"testing"
)

func TestModbusModules(t *testing.T) {
	c, err := Load(write(t, t.TempDir(), "c.yml", `
modules:
  mb: {source: modbus}
  amtron: {source: modbus, modbus: {unit_id: 1, port: 503}}
  both: {source: [rest, modbus]}
targets:
  - {name: a, address: 'modbus://10.0.0.5', module: mb}
  - {name: b, address: '10.0.0.6:1502', module: amtron}
  - {name: c, address: 'http://10.0.0.7/base', module: both}
`))
	if err != nil {
		t.Fatal(err)
	}
	if m := c.Modules["mb"]; m.Modbus.UnitID != 255 || m.Modbus.Port != 502 || !m.Source.Has(SourceModbus) || m.Source.Has(SourceREST) {
		t.Errorf("mb: %+v %+v", m.Source, m.Modbus)
	}
	if m := c.Modules[DefaultModule]; len(m.Source) != 1 || m.Source[0] != SourceREST || m.Modbus != nil {
		t.Errorf("default module: %+v %+v", m.Source, m.Modbus)
	}
	for _, tt := range []struct{ module, target, rest, modbus string }{
		{"mb", "10.0.0.5", "", "modbus://10.0.0.5:502"},
		{"mb", "modbus://cc.example.net:503", "", "modbus://cc.example.net:503"},
		{"mb", "[2001:db8::1]:502", "", "modbus://[2001:db8::1]:502"},
		{"mb", "2001:db8::1", "", "modbus://[2001:db8::1]:502"},
		{"amtron", "10.0.0.6", "", "modbus://10.0.0.6:503"},
		{"both", "10.0.0.7:8080", "http://10.0.0.7:8080", "modbus://10.0.0.7:502"},
		{"default", "10.0.0.7", "http://10.0.0.7", ""},
	} {
		rest, mb, err := c.Modules[tt.module].ParseTarget(tt.target)
		if err != nil {
			t.Errorf("%s %s: %v", tt.module, tt.target, err)
			continue
		}
		if got := str(rest); got != tt.rest {
			t.Errorf("%s %s: rest %q, want %q", tt.module, tt.target, got, tt.rest)
		}
		if got := str(mb); got != tt.modbus {
			t.Errorf("%s %s: modbus %q, want %q", tt.module, tt.target, got, tt.modbus)
		}
	}
	for _, bad := range []string{"http://10.0.0.5", "modbus://10.0.0.5/x", "10.0.0.5:0", "user@10.0.0.5", "modbus://"} {
		if _, _, err := c.Modules["mb"].ParseTarget(bad); err == nil {
			t.Errorf("mb target %q accepted", bad)
		}
	}
}

func str(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.String()
}

func TestModbusConfigErrors(t *testing.T) {
	for cfg, want := range map[string]string{
		"modules:\n  m: {source: snmp}\n":                                                            `source "snmp"`,
		"modules:\n  m: {source: [modbus, modbus]}\n":                                                "listed twice",
		"modules:\n  m: {modbus: {unit_id: 1}}\n":                                                    "modbus settings need source",
		"modules:\n  m: {source: modbus, modbus: {unit_id: 256}}\n":                                  "unit_id 256",
		"modules:\n  m: {source: modbus, modbus: {port: 70000}}\n":                                   "port 70000",
		"modules:\n  m: {source: modbus, modbus: {unitid: 1}}\n":                                     "unitid",
		"modules:\n  m: {source: modbus, username: u, password: p}\n":                                "credentials need source rest",
		"modules:\n  m: {source: modbus}\ntargets:\n  - {name: x, address: 'http://h', module: m}\n": "not http://",
	} {
		_, err := Load(write(t, t.TempDir(), "c.yml", cfg))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one saying %q", cfg, err, want)
		}
	}
}
