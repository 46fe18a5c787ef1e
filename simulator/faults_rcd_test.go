package simulator

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRCDFault(t *testing.T) {
	f, err := NewFleet(Options{Controllers: 1, Seed: 1, Firmware: "5.33"})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := ParseFault("rcd")
	if err != nil {
		t.Fatal(err)
	}
	f.SetFault(1, spec)
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, httptest.NewRequest("GET", "/cc/1/rest/full_state", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	for _, want := range []string{"rcd_state:triggered", "ocpp_state:faulted", "rcd_triggered"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("no %q in\n%s", want, body)
		}
	}
}
