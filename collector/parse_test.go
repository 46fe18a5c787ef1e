package collector

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// values renders what Parse made of a document as "key=…" strings, in
// document order, so that tests read like the document.
func values(st *FullState) []string {
	var out []string
	for _, v := range st.Values {
		s := v.Field.Key + "=" + v.Field.Value
		if len(v.Numbers) > 0 {
			s += " →"
			for _, n := range v.Numbers {
				s += " " + strconv.FormatFloat(n.Value, 'f', -1, 64)
				if v.Spec.Kind == List {
					s += "@" + v.Spec.ListValues[n.Index]
				}
			}
		}
		if v.Spec.Kind == Errors {
			s += " → [" + strings.Join(v.Codes, " ") + "]"
		}
		out = append(out, s)
	}
	return out
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
		unknown    []string
		invalid    []string
	}{
		{name: "first colon only, trimmed", body: "cc_serial_n: 2202532503/b94060010me2 \ndisplay_text:a:b<c>\n",
			want: []string{"cc_serial_n=2202532503/b94060010me2"}},
		{name: "CRLF and no final newline", body: "power_w:3600\r\nmeter_wh:1\r\nambient_temp:+25.30",
			want: []string{"power_w=3600 → 3600", "meter_wh=1 → 3600", "ambient_temp=+25.30 → 25.3"}},
		{name: "blank lines skipped", body: "\n\npower_w:1\n\n", want: []string{"power_w=1 → 1"}},
		{name: "empty values export nothing", body: "slave_state:\nauth_uid:\npower_w:\nconn_state:no_vehicle_connected",
			want: []string{"conn_state=no_vehicle_connected"}},
		{name: "three phases with spaces", body: "current_a:14.0, 14.5,14.1", want: []string{"current_a=14.0, 14.5,14.1 → 14@L1 14.5@L2 14.1@L3"}},
		{name: "one phase", body: "current_a:0.00", want: []string{"current_a=0.00 → 0@L1"}},
		{name: "too many phases", body: "power_w:1\ncurrent_a:1,2,3,4", want: []string{"power_w=1 → 1"},
			invalid: []string{"current_a: 4 values, at most 3 expected"}},
		{name: "one bad phase skips the key", body: "power_w:1\nvoltage_v:231,n/a,229", want: []string{"power_w=1 → 1"},
			invalid: []string{`voltage_v: value 2: not a number: "n/a"`}},
		{name: "mA to A, older names", body: "rcmb_max_values: 31.5, 6.2\nrcmb_current_values: 0.0, 0.0",
			want: []string{"rcmb_max_values=31.5, 6.2 → 0.0315@1 0.0062@2", "rcmb_current_values=0.0, 0.0 → 0@1 0@2"}},
		{name: "sentinel means no value", body: "energy_man_current:4294967295\nrcmb_values:4294967295, 1000\npower_w:5",
			want: []string{"energy_man_current=4294967295", "rcmb_values=4294967295, 1000 → 1@2", "power_w=5 → 5"}},
		{name: "bools", body: "free_charging:on\ncable_attached:off\nschuko_cfg:enable",
			want: []string{"free_charging=on → 1", "cable_attached=off → 0", "schuko_cfg=enable → 1"}},
		{name: "bad bool", body: "free_charging:maybe\npower_w:1", want: []string{"power_w=1 → 1"},
			invalid: []string{`free_charging: want "on" or "off"`}},
		{name: "numeric proximity", body: "type2_proximity:32", want: []string{"type2_proximity=32 → 32"}},
		{name: "word proximity", body: "type2_proximity:cable_attached", want: []string{"type2_proximity=cable_attached"}},
		{name: "unknown enum value kept", body: "ocpp_state:Störung", want: []string{"ocpp_state=Störung"}},
		{name: "errors split, empties and duplicates dropped", body: "errors:plug_locking_failed;;rfid_reader_not_communicating;plug_locking_failed",
			want: []string{"errors=plug_locking_failed;;rfid_reader_not_communicating;plug_locking_failed → [plug_locking_failed rfid_reader_not_communicating]"}},
		{name: "no errors, English and German", body: "errors:no_errors", want: []string{"errors=no_errors → []"}},
		{name: "keine_fehler", body: "errors:keine_fehler", want: []string{"errors=keine_fehler → []"}},
		{name: "NaN and Inf are not numbers", body: "power_w:NaN\nmeter_wh:+Inf\nmax_current:16", want: []string{"max_current=16 → 16"},
			invalid: []string{`power_w: not a number: "NaN"`, `meter_wh: not a number: "+Inf"`}},
		{name: "unknown keys counted", body: "power_w:1\nlte_state:up\nhw_revision:4", want: []string{"power_w=1 → 1"},
			unknown: []string{"lte_state", "hw_revision"}},
		{name: "duplicate key and alias", body: "rcmb_max:1,2\nrcmb_max_values:3,4\npower_w:1\npower_w:2",
			want:    []string{"rcmb_max=1,2 → 0.001@1 0.002@2", "power_w=1 → 1"},
			invalid: []string{"rcmb_max_values: duplicate of rcmb_max", "power_w: duplicate of power_w"}},
		{name: "too many error codes", body: "power_w:1\nerrors:" + strings.Repeat("e;", 32) + strings.Repeat("x", 3) + ";" + codes(40),
			want: []string{"power_w=1 → 1"}, invalid: []string{"errors: more than 32 error codes"}},
		{name: "32 error codes are fine", body: "errors:" + codes(32), want: []string{"errors=" + codes(32) + " → [" + strings.ReplaceAll(codes(32), ";", " ") + "]"}},
		{name: "overlong state", body: "power_w:1\nocpp_state:" + strings.Repeat("x", 129), want: []string{"power_w=1 → 1"},
			invalid: []string{"ocpp_state: value longer than 128 bytes"}},
		{name: "overlong identity", body: "power_w:1\ncp_model:" + strings.Repeat("x", 129), want: []string{"power_w=1 → 1"},
			invalid: []string{"cp_model: value longer than 128 bytes"}},
		{name: "overlong error code", body: "power_w:1\nerrors:a;" + strings.Repeat("x", 129), want: []string{"power_w=1 → 1"},
			invalid: []string{"errors: error code longer than 128 bytes"}},
		{name: "a display_text over three lines", body: "conn_state:no_vehicle_connected\ndisplay_text:Willkommen\nBitte Karte\n<url>http://x</url>\npower_w:1",
			want: []string{"conn_state=no_vehicle_connected", "power_w=1 → 1"}},
		{name: "a multi-line value of an exported key is not exported", body: "cp_model:AMTRON\nXtra\npower_w:1\nmeter_wh:5\n7",
			want: []string{"power_w=1 → 1"}, invalid: []string{"cp_model: the value goes on over 1 more lines", "meter_wh: the value goes on over 1 more lines"}},
		{name: "a line that is not key:value continues the value before it", body: "power_w:1\nthis is not a line\n",
			invalid: []string{"power_w: the value goes on over 1 more lines"}},
		{name: "states in another case are the documented state", body: "ocpp_state:Charging\nslave_state:SuspendedEVSE\ntype2_state:C\nrcd_state:OKAY",
			want: []string{"ocpp_state=charging", "slave_state=suspendedevse", "type2_state=c", "rcd_state=okay"}},
		{name: "a lone zero on the energy meter is no reading", body: "meter_wh:0\npower_w:0\ncon_cycles_type2:0",
			want: []string{"meter_wh=0", "power_w=0 → 0", "con_cycles_type2=0 → 0"}},
		{name: "private keys never become values", body: "auth_uid:046e453af012ca3\ndisplay_text:<x>\npower_w:1",
			want: []string{"power_w=1 → 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := Parse([]byte(tt.body))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := values(st); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("values:\n got %q\nwant %q", got, tt.want)
			}
			var unknown, invalid []string
			for _, f := range st.Unknown {
				unknown = append(unknown, f.Key)
			}
			for _, iv := range st.Invalid {
				invalid = append(invalid, iv.Key+": "+iv.Reason)
			}
			if !reflect.DeepEqual(unknown, tt.unknown) {
				t.Errorf("unknown: got %q, want %q", unknown, tt.unknown)
			}
			if !reflect.DeepEqual(invalid, tt.invalid) {
				t.Errorf("invalid: got %q, want %q", invalid, tt.invalid)
			}
		})
	}
}

// codes returns n distinct error codes, ';'-separated.
func codes(n int) string {
	c := make([]string, n)
	for i := range c {
		c[i] = "code" + strconv.Itoa(i)
	}
	return strings.Join(c, ";")
}

func TestUnknownStates(t *testing.T) {
	for body, want := range map[string]int{
		"ocpp_state:charging\nconn_state:no_vehicle_connected": 0,
		"ocpp_state:Charging\ntype2_state:B":                   0,
		"ocpp_state:Störung\ntype2_state:b":                    1,
		"ocpp_state:Störung\nconn_state:Fahrzeug_verbunden":    2,
		"ocpp_state:\npower_w:1":                               0,
	} {
		st, err := Parse([]byte(body))
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if got := st.UnknownStates(); got != want {
			t.Errorf("%q: UnknownStates() = %d, want %d", body, got, want)
		}
	}
}

func TestParseRejectsWhatIsNotADocument(t *testing.T) {
	tests := []struct{ name, body, msg string }{
		{"empty", "", "empty body"},
		{"whitespace", " \r\n\n", "empty body"},
		{"HTML login page", "<!DOCTYPE html>\n<html><head><title>Login</title></head></html>", "HTML"},
		{"JSON", `{"conn_state":"no_vehicle_connected"}`, "JSON"},
		{"binary", "\x00\x01\x02conn_state:x", "binary"},
		{"invalid UTF-8", "conn_state:\xff\xfe", "binary"},
		{"plain text error", "REST interface disabled", `line 1 is not key:value: "REST interface disabled"`},
		{"bad key", "power w:1", "line 1 is not key:value"},
		{"only unknown keys", "error:REST disabled\nstatus:off", "no known key in 2 unknown ones"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := Parse([]byte(tt.body))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", st)
			}
			if !errors.Is(err, ErrNotFullState) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q, want ErrNotFullState saying %q", err, tt.msg)
			}
		})
	}
}

// TestParseFixtures checks that every fixture is a document, and that the
// real 5.22.1 body holds no unknown or invalid key.
func TestParseFixtures(t *testing.T) {
	for f, body := range fixtures(t) {
		st, err := Parse(body)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if strings.Contains(f, "fw5.22.1") || strings.Contains(f, "fw5.33") {
			if len(st.Unknown)+len(st.Invalid) != 0 {
				t.Errorf("%s: unknown %v, invalid %v", f, st.Unknown, st.Invalid)
			}
		}
	}
}
