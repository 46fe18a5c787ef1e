package collector

import (
	"strings"
	"testing"
)

func TestCutLine(t *testing.T) {
	for _, tt := range []struct{ in, line, rest string }{
		{"a\nb", "a", "b"},
		{"a\r\nb", "a", "b"},
		{"a\rb", "a", "b"},
		{"a\r\rb", "a", "\rb"},
		{"a\vb", "a", "b"},
		{"a\fb", "a", "b"},
		{"a\u0085b", "a", "b"},
		{"a\u2028b", "a", "b"},
		{"a\u2029b", "a", "b"},
		{"Störung\nb", "Störung", "b"},
		{"a\u2027b", "a\u2027b", ""}, // not a terminator
		{"a", "a", ""},
	} {
		line, rest, _ := CutLine(tt.in)
		if line != tt.line || rest != tt.rest {
			t.Errorf("CutLine(%q) = %q, %q; want %q, %q", tt.in, line, rest, tt.line, tt.rest)
		}
	}
}

func TestAuthUIDSpellings(t *testing.T) {
	for _, k := range []string{"auth_uid", "AUTH_UID", "auth uid", "Auth-UID", "authuid", "\ufeffauth_uid", "auth\uff3fuid",
		"\uff41\uff55\uff54\uff48\uff3f\uff55\uff49\uff44", `"auth_uid"`, "auth\u200buid"} {
		if !IsAuthUIDKey(k) || !MentionsAuthUID(k) || !MentionsAuthUID("x:"+k+" 04ab") {
			t.Errorf("%q is not recognised as auth_uid", k)
		}
	}
	for _, k := range []string{"auth_state", "uid", "auth", "auth_uidx", "a_u_t_h", "cc_serial_n", "Störung"} {
		if IsAuthUIDKey(k) {
			t.Errorf("%q taken for auth_uid", k)
		}
	}
	for _, s := range []string{"auth_state:authorized_for_charging", "conn_state:no_vehicle_connected", "aauth"} {
		if MentionsAuthUID(s) {
			t.Errorf("%q taken to mention auth_uid", s)
		}
	}
	if !MentionsAuthUID("<td>Auth UID</td>") || IsAuthUIDKey("<td>Auth UID</td>") {
		t.Error("markup around auth_uid: a mention, not a key")
	}
	if !MentionsAuthUID("aauthuid") || !MentionsAuthUID("authauthuid") {
		t.Error("a match after a false start is missed")
	}
}

// TestParseHidesAuthUID: however the card UID is written, no value, unknown
// key or error holds it.
func TestParseHidesAuthUID(t *testing.T) {
	const uid = "04C0FFEE1234AB"
	for _, body := range []string{
		"conn_state:x\rauth_uid:" + uid,
		"conn_state:x\u2028auth_uid:" + uid,
		"conn_state:x\nAUTH_UID:" + uid,
		"\ufeffauth_uid:" + uid + "\nconn_state:x",
		"conn_state:x\nauth uid:" + uid,
		"conn_state:x\nauth_uid " + uid,
		"conn_state:x\nauth\uff3fuid:" + uid,
		"cp_id:a\x1cauth_uid:" + uid + "\nconn_state:x",
		"power_w:1\x1cauth_uid:" + uid + "\nconn_state:x",
		"conn_state:x\nauth_uid:1\nauth_uid:" + uid,
		"junk " + uid + " auth_uid\nconn_state:x",
		"auth_uid:" + uid,
	} {
		st, err := Parse([]byte(body))
		var all []string
		if err != nil {
			all = append(all, err.Error())
		} else {
			for _, v := range st.Values {
				all = append(all, v.Field.Value)
			}
			for _, f := range append(st.Unknown, func() (fs []Field) {
				for _, iv := range st.Invalid {
					fs = append(fs, iv.Field, Field{Key: iv.Reason})
				}
				return fs
			}()...) {
				all = append(all, f.Key, f.Value)
			}
		}
		if s := strings.Join(all, "|"); strings.Contains(s, uid) {
			t.Errorf("%q: the UID is kept: %s", body, s)
		}
	}
}
