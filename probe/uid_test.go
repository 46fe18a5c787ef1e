package probe

import (
	"net/http"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// TestAuthUIDNeverShown: the RFID card UID that a controller sends appears
// in no output, whatever the body's format: not in the probe's metrics, the
// debug view, the log at debug level or an error.
func TestAuthUIDNeverShown(t *testing.T) {
	const uid = "04C0FFEE1234AB"
	const doc = "conn_state:no_vehicle_connected\npower_w:0\n"
	for _, tt := range []struct {
		name, body string
		status     int
		up         string
	}{
		{"LF", doc + "auth_uid:" + uid + "\n", 200, "1"},
		{"bare CR", "conn_state:no_vehicle_connected\rauth_uid:" + uid + "\rpower_w:0\r", 200, "1"},
		{"bare CR, after a number", "power_w:3\rauth_uid:" + uid + "\rconn_state:no_vehicle_connected", 200, "1"},
		{"U+2028", "conn_state:no_vehicle_connected\u2028auth_uid:" + uid + "\u2028power_w:0", 200, "1"},
		{"U+2029", "conn_state:no_vehicle_connected\u2029auth_uid:" + uid, 200, "1"},
		{"NEL, VT, FF", "conn_state:no_vehicle_connected\u0085auth_uid:" + uid + "\vpower_w:0\fauth_uid:" + uid, 200, "1"},
		{"another control character", doc + "cp_id:a\x1cauth_uid:" + uid + "\nerrors:a\x1cauth_uid:" + uid, 200, "1"},
		{"AUTH_UID", doc + "AUTH_UID:" + uid, 200, "1"},
		{"BOM", "\ufeffauth_uid:" + uid + "\n" + doc, 200, "1"},
		{"BOM inside", doc + "\ufeffauth_uid:" + uid, 200, "1"},
		{"auth uid", doc + "auth uid:" + uid, 200, "1"},
		{"Auth-UID", doc + "Auth-UID: " + uid, 200, "1"},
		{"no colon", doc + "auth_uid " + uid, 200, "1"},
		{"no colon, equals", doc + "auth_uid=" + uid, 200, "1"},
		{"full-width underscore", doc + "auth\uff3fuid:" + uid, 200, "1"},
		{"full-width key", doc + "\uff41\uff55\uff54\uff48\uff3f\uff55\uff49\uff44:" + uid, 200, "1"},
		{"duplicate", doc + "auth_uid:x\nauth_uid:" + uid, 200, "1"},
		{"JSON", `{"conn_state":"no_vehicle_connected","auth_uid":"` + uid + `"}`, 200, "0"},
		{"JSON, one field a line", "{\n  \"conn_state\": \"no_vehicle_connected\",\n  \"authUid\": \"" + uid + "\"\n}", 200, "0"},
		{"BOM and JSON", "\ufeff{\"auth_uid\":\"" + uid + "\"}", 200, "0"},
		{"HTML, value on the next line", "<html><table><tr><td>Auth UID</td>\n<td>" + uid + "</td></tr></table></html>", 200, "0"},
		{"HTML error page", "<html><body>auth_uid " + uid + " not authorized</body></html>", 401, "0"},
		{"plain text", "Card auth_uid " + uid + " unknown", 200, "0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctl := newCountingServer(t, "127.0.0.1", func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			h, logs := newHandler(t, "")
			h.Logger = level.NewFilter(log.NewLogfmtLogger(logs), level.AllowDebug())
			_, out := probe(t, h, "target="+ctl.URL, nil)
			if !strings.Contains(out, "bender_cc_up "+tt.up+"\n") {
				t.Errorf("want bender_cc_up %s:\n%s", tt.up, out)
			}
			_, dbg := probe(t, h, "debug=true&target="+ctl.URL, nil)
			for what, s := range map[string]string{"probe": out, "debug view": dbg, "log": logs.String()} {
				if strings.Contains(strings.ToUpper(s), uid) {
					t.Errorf("%s shows the card UID:\n%s", what, s)
				}
			}
			if tt.up == "1" && !strings.Contains(dbg, `→ bender_cc_connection_state{state="no_vehicle_connected"} = 1`) {
				t.Errorf("debug view lost a line:\n%s", dbg)
			}
		})
	}
}
