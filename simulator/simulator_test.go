package simulator

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bender-cc/bender_cc_exporter/collector"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func fleet(t testing.TB, o Options) *Fleet {
	t.Helper()
	if o.Start.IsZero() {
		o.Start = t0
	}
	f, err := NewFleet(o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func body(c *Controller, at time.Time) []byte {
	var b bytes.Buffer
	c.Write(&b, c.Document(c.StateAt(at)))
	return b.Bytes()
}

func TestDeterministic(t *testing.T) {
	a := fleet(t, Options{Controllers: 20, Seed: 7, Firmware: "mixed"})
	b := fleet(t, Options{Controllers: 20, Seed: 7, Firmware: "mixed"})
	other := fleet(t, Options{Controllers: 20, Seed: 8, Firmware: "mixed"})
	same := 0
	for id := 1; id <= 20; id++ {
		at := t0.Add(time.Duration(id) * 17 * time.Minute)
		if !bytes.Equal(body(a.Controller(id), at), body(b.Controller(id), at)) {
			t.Errorf("controller %d differs between two fleets of the same seed", id)
		}
		if bytes.Equal(body(a.Controller(id), at), body(other.Controller(id), at)) {
			same++
		}
	}
	if same == 20 {
		t.Error("another seed gave the same fleet")
	}
	// Asking about the past recomputes it identically.
	c := a.Controller(3)
	late, early := body(c, t0.Add(5*time.Hour)), body(c, t0.Add(time.Hour))
	if !bytes.Equal(early, body(b.Controller(3), t0.Add(time.Hour))) || !bytes.Equal(late, body(c, t0.Add(5*time.Hour))) {
		t.Error("state depends on the order of questions")
	}
}

// TestDocumentsParseCleanly: over a day of a mixed fleet, every document is
// one the exporter reads without unknown or invalid keys, and every phase
// and fault shows up.
func TestDocumentsParseCleanly(t *testing.T) {
	f := fleet(t, Options{Controllers: 40, Seed: 1, Firmware: "mixed"})
	phases, faults, firmware := map[Phase]int{}, map[Fault]int{}, map[string]int{}
	for id := 1; id <= f.Len(); id++ {
		c := f.Controller(id)
		firmware[c.Firmware]++
		for at := t0; at.Before(t0.Add(24 * time.Hour)); at = at.Add(97 * time.Second) {
			s := c.StateAt(at)
			phases[s.Phase]++
			if s.Phase != Idle {
				faults[s.Fault]++
			}
			st, err := collector.Parse(body(c, at))
			if err != nil {
				t.Fatalf("controller %d at %s: %v", id, at, err)
			}
			if len(st.Unknown)+len(st.Invalid) > 0 {
				t.Fatalf("controller %d (fw %s): unknown %v invalid %v", id, c.Firmware, st.Unknown, st.Invalid)
			}
		}
	}
	for p := Idle; p <= Finishing; p++ {
		if phases[p] == 0 {
			t.Errorf("phase %d never seen", p)
		}
	}
	for fl := RCMBTrip; fl <= ConnectorError; fl++ {
		if faults[fl] == 0 {
			t.Errorf("fault %d never seen", fl)
		}
	}
	if firmware["5.22"] == 0 || firmware["5.33"] == 0 {
		t.Errorf("mixed fleet: %v", firmware)
	}
}

func TestFirmwareFormats(t *testing.T) {
	f := fleet(t, Options{Controllers: 2, Seed: 1, Firmware: "5.22"})
	b := string(body(f.Controller(1), t0))
	if strings.HasSuffix(b, "\n") || !strings.Contains(b, "\nrcmb_max_values: ") || strings.Contains(b, "voltage_v") || strings.Contains(b, "wlan_state") {
		t.Errorf("5.22 format wrong:\n%s", b)
	}
	f = fleet(t, Options{Controllers: 2, Seed: 1, Firmware: "5.33"})
	b = string(body(f.Controller(1), t0))
	if !strings.HasSuffix(b, "wlan_state:wlan_disconnected\n") || !strings.Contains(b, "power_w:") || !strings.Contains(b, "\nrcmb_max:") {
		t.Errorf("5.33 format wrong:\n%s", b)
	}
	if i, j := strings.Index(b, "\npower_w:"), strings.Index(b, "\nvoltage_v:"); j < i || strings.Count(b[i+1:j], "\n") != 0 {
		t.Error("5.33 must put voltage_v right after power_w")
	}
}

// TestMeterIntegratesPower: during a charging session, the meter rises by
// exactly power × time, and the contactor counts sessions.
func TestMeterIntegratesPower(t *testing.T) {
	f := fleet(t, Options{Controllers: 30, Seed: 3, Firmware: "5.33"})
	checked := 0
	for id := 1; id <= f.Len(); id++ {
		c := f.Controller(id)
		cy := c.cycle(0)
		a, b := c.StateAt(t0), c.StateAt(t0.Add(60*time.Second))
		if a.Phase != Charging || b.Phase != Charging || a.CycleNumber != b.CycleNumber || cy.blocked() {
			continue
		}
		checked++
		if got, want := b.MeterWh-a.MeterWh, cy.power*60/3600; abs(got-want) > 1e-6 {
			t.Errorf("controller %d: meter rose %.3f Wh in 60 s at %.0f W, want %.3f", id, got, cy.power, want)
		}
		if abs(a.Power-cy.power) > cy.power*0.01 || a.Power < 3600 || a.Power > 22100 {
			t.Errorf("controller %d: power %.0f W, session power %.0f W", id, a.Power, cy.power)
		}
	}
	if checked == 0 {
		t.Fatal("no controller was charging for a minute at t0")
	}
	c := f.Controller(1)
	early, later := c.StateAt(t0), c.StateAt(t0.Add(6*time.Hour))
	if later.ContactorCycles <= early.ContactorCycles || later.MeterWh <= early.MeterWh {
		t.Errorf("over 6 hours: cycles %d → %d, meter %.0f → %.0f", early.ContactorCycles, later.ContactorCycles, early.MeterWh, later.MeterWh)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func get(t *testing.T, h http.Handler, path string, hdr map[string]string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

func TestServer(t *testing.T) {
	f := fleet(t, Options{Controllers: 3, Seed: 1, Firmware: "5.33", Now: func() time.Time { return t0 }})
	if code, b := get(t, f, "/cc/2/rest/full_state", nil); code != 200 || !strings.HasPrefix(b, "conn_state:") {
		t.Errorf("full_state: %d %q", code, b)
	}
	if code, b := get(t, f, "/cc/2/rest/cp_model", nil); code != 200 || b != f.Controller(2).Model {
		t.Errorf("single key: %d %q", code, b)
	}
	for _, p := range []string{"/cc/0/rest/full_state", "/cc/4/rest/full_state", "/cc/x/rest/full_state", "/cc/1/rest/nope", "/cc/1/other", "/nope"} {
		if code, _ := get(t, f, p, nil); code != 404 {
			t.Errorf("%s: %d, want 404", p, code)
		}
	}
	if f.Requests(2) != 2 {
		t.Errorf("requests to controller 2: %d", f.Requests(2))
	}
	if code, b := get(t, f, "/", nil); code != 200 || strings.Count(b, "/cc/") != 3 {
		t.Errorf("index: %d %q", code, b)
	}
}

func TestCredentials(t *testing.T) {
	f := fleet(t, Options{Controllers: 1, Seed: 1, Firmware: "5.33", Username: "operator", Password: "pw"})
	if code, _ := get(t, f, "/cc/1/rest/full_state", nil); code != 401 {
		t.Errorf("no credentials: %d", code)
	}
	if code, _ := get(t, f, "/cc/1/rest/full_state", map[string]string{"Username": "operator", "Password": "wrong"}); code != 401 {
		t.Errorf("wrong password: %d", code)
	}
	if code, _ := get(t, f, "/cc/1/rest/full_state", map[string]string{"Authorization": "Basic Auth", "Username": "operator", "Password": "pw"}); code != 200 {
		t.Errorf("right credentials: %d", code)
	}
}

func TestFaults(t *testing.T) {
	f := fleet(t, Options{Controllers: 1, Seed: 1, Firmware: "5.33", Now: func() time.Time { return t0 }})
	srv := httptest.NewServer(f)
	defer srv.Close()
	set := func(q string) {
		resp, err := http.Post(srv.URL+"/control/cc/1/fault?"+q, "", nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("setting fault %s: %v %v", q, err, resp)
		}
		_ = resp.Body.Close()
	}
	fetch := func(timeout time.Duration) (int, string, error) {
		c := &http.Client{Timeout: timeout}
		resp, err := c.Get(srv.URL + "/cc/1/rest/full_state")
		if err != nil {
			return 0, "", err
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	for _, tt := range []struct {
		mode string
		code int
		body string
	}{
		{"500", 500, "Internal"}, {"401", 401, "Unauthorized"}, {"404", 404, "REST interface disabled"},
		{"html", 200, "<!DOCTYPE html>"}, {"garbage", 200, "\x1f\x8b"}, {"latency&delay=50ms", 200, "conn_state:"},
	} {
		set("mode=" + tt.mode)
		code, b, err := fetch(5 * time.Second)
		if err != nil || code != tt.code || !strings.Contains(b, tt.body) {
			t.Errorf("%s: %d %q %v", tt.mode, code, b, err)
		}
	}
	for _, tt := range []struct{ mode, want string }{
		{"rcmb", "rcmb_state:triggered"}, {"plug_lock", "errors:plug_locking_failed"},
		{"connector_error", "mcb_type2_state:triggered"}, {"backend_lost", "backend_conn_state:not_connected"},
		{"overheat", "errors:temperature_too_high"},
	} {
		set("mode=" + tt.mode)
		code, b, err := fetch(5 * time.Second)
		if err != nil || code != 200 || !strings.Contains(b, tt.want+"\n") {
			t.Errorf("device fault %s: %d, want %q in\n%s", tt.mode, code, tt.want, b)
		}
		if st, err := collector.Parse([]byte(b)); err != nil || len(st.Invalid)+len(st.Unknown) > 0 {
			t.Errorf("device fault %s: document does not parse cleanly: %v", tt.mode, err)
		}
	}
	set("mode=truncated")
	_, b, _ := fetch(5 * time.Second)
	if _, full, _ := func() (int, string, error) { f.SetFault(1, nil); return fetch(5 * time.Second) }(); len(b) >= len(full) || !strings.HasPrefix(full, b) {
		t.Errorf("truncated: %d of %d bytes", len(b), len(full))
	}
	set("mode=hang")
	if _, _, err := fetch(200 * time.Millisecond); err == nil {
		t.Error("hang answered")
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/control/cc/1/fault", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("clearing fault: %v", err)
	}
	if code, _, _ := fetch(time.Second); code != 200 {
		t.Errorf("after clearing: %d", code)
	}
	if _, err := ParseFault("latency"); err == nil {
		t.Error("latency without a duration accepted")
	}
	if _, err := ParseFault("explode"); err == nil {
		t.Error("unknown fault accepted")
	}
}

// TestThousandControllersMemory: the heap of a 1,000-controller fleet that
// has answered a request from each stays small (issue: well under 200 MB).
func TestThousandControllersMemory(t *testing.T) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f := fleet(t, Options{Controllers: 1000, Seed: 1, Firmware: "mixed"})
	for id := 1; id <= 1000; id++ {
		if code, _ := get(t, f, "/cc/"+strconv.Itoa(id)+"/rest/full_state", nil); code != 200 {
			t.Fatal(code)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 20<<20 {
		t.Errorf("1,000 controllers hold %d MB of heap", grown>>20)
	}
	runtime.KeepAlive(f)
}

func BenchmarkFullState(b *testing.B) {
	f := fleet(b, Options{Controllers: 1000, Seed: 1, Firmware: "mixed"})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i = i%1000 + 1
		w := httptest.NewRecorder()
		f.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/cc/"+strconv.Itoa(i)+"/rest/full_state", nil))
	}
}

// The Modbus view lives the same life: an ISO 15118 vehicle's state of
// charge rises while it charges, the HEMS limit changes, and a DLM master
// counts its slaves.
func TestModbusLife(t *testing.T) {
	start := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	now := start
	f, err := NewFleet(Options{Controllers: 6, Seed: 5, Firmware: "5.33", DLMSiteSize: 3, Start: start, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	hems := map[uint16]bool{}
	rising := 0
	for id := 1; id <= f.Len(); id++ {
		lastSoC, lastCycle := -1, -1
		for step := range 720 { // six hours, every 30 s
			now = start.Add(time.Duration(step) * 30 * time.Second)
			regs := f.ModbusRegisters(id)
			hems[regs[1000]] = true
			st := f.Controller(id).StateAt(now)
			if regs[740] == 1 && st.Phase == Charging {
				soc := int(regs[730])
				if st.CycleNumber == lastCycle && soc < lastSoC {
					t.Fatalf("controller %d: SoC fell from %d to %d while charging", id, lastSoC, soc)
				}
				if st.CycleNumber == lastCycle && soc > lastSoC {
					rising++
				}
				lastSoC, lastCycle = soc, st.CycleNumber
			}
			if (id-1)%3 == 0 && regs[600] != uint16(DLMMaster) || (id-1)%3 != 0 && regs[600] != uint16(DLMSlave) {
				t.Fatalf("controller %d: DLM mode %d", id, regs[600])
			}
			if (id-1)%3 == 0 && regs[621] > 2 {
				t.Fatalf("master %d counts %d slaves", id, regs[621])
			}
		}
	}
	if rising == 0 || len(hems) < 3 || !hems[0] {
		t.Errorf("SoC rose %d times; HEMS limits seen: %v", rising, hems)
	}
}
