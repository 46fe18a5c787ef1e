package simulator

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// FaultMode is a way a controller (or the network to it) misbehaves.
type FaultMode string

// The injectable faults.
const (
	FaultLatency   FaultMode = "latency"   // answer correctly after Delay
	Fault500       FaultMode = "500"       // internal server error
	Fault401       FaultMode = "401"       // wrong password
	Fault404       FaultMode = "404"       // REST interface disabled
	FaultHTML      FaultMode = "html"      // a 200 login page
	FaultGarbage   FaultMode = "garbage"   // 200 with binary noise
	FaultTruncated FaultMode = "truncated" // the document cut mid-line
	FaultHang      FaultMode = "hang"      // accept, then never answer

	// Device faults: the controller answers, reporting the fault.
	DeviceRCMB      FaultMode = "rcmb"            // residual current monitor tripped
	DevicePlugLock  FaultMode = "plug_lock"       // plug locking failed
	DeviceConnector FaultMode = "connector_error" // connector error, MCB tripped
	DeviceBackend   FaultMode = "backend_lost"    // OCPP backend unreachable
	DeviceOverheat  FaultMode = "overheat"        // temperature above 70 °C
	DeviceRCD       FaultMode = "rcd"             // residual current device tripped
)

// deviceFaults maps device fault modes to the fault the controller reports.
var deviceFaults = map[FaultMode]Fault{
	DeviceRCMB: RCMBTrip, DevicePlugLock: PlugLocking, DeviceConnector: ConnectorError,
	DeviceBackend: BackendLost, DeviceOverheat: Overheating, DeviceRCD: RCDTrip,
}

var faultModes = []FaultMode{FaultLatency, Fault500, Fault401, Fault404, FaultHTML, FaultGarbage, FaultTruncated, FaultHang,
	DeviceRCMB, DevicePlugLock, DeviceConnector, DeviceBackend, DeviceOverheat, DeviceRCD}

// FaultSpec is one injected fault.
type FaultSpec struct {
	Mode  FaultMode
	Delay time.Duration // FaultLatency
}

func (s *FaultSpec) String() string {
	if s.Mode == FaultLatency {
		return fmt.Sprintf("%s:%s", s.Mode, s.Delay)
	}
	return string(s.Mode)
}

// ParseFault reads "500", "html", "latency:2s" ….
// FaultModes lists the modes ParseFault accepts, as a user writes them:
// transport faults first, then device faults.
func FaultModes() []string {
	all := append(faultModes[:len(faultModes):len(faultModes)], modbusFaults...)
	names := make([]string, len(all))
	for i, m := range all {
		names[i] = string(m)
		if m == FaultLatency {
			names[i] += ":<duration>"
		}
	}
	return names
}

func ParseFault(s string) (*FaultSpec, error) {
	mode, arg, _ := strings.Cut(s, ":")
	spec := &FaultSpec{Mode: FaultMode(mode)}
	known := false
	for _, m := range append(faultModes[:len(faultModes):len(faultModes)], modbusFaults...) {
		known = known || m == spec.Mode
	}
	if !known {
		return nil, fmt.Errorf("unknown fault %q; one of %v", mode, faultModes)
	}
	if spec.Mode == FaultLatency {
		d, err := time.ParseDuration(arg)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("latency needs a duration, as in latency:2s")
		}
		spec.Delay = d
	}
	return spec, nil
}

const loginPage = `<!DOCTYPE html>
<html><head><title>Charge Controller - Login</title></head>
<body><form method="post" action="/login">User: <input name="user"> Password: <input type="password" name="pw"></form></body></html>
`

// serve answers the request in the faulty way, or returns false when the
// normal answer should follow (latency after its delay; truncation, which
// the caller applies to the document).
func (s *FaultSpec) serve(w http.ResponseWriter, r *http.Request) bool {
	switch s.Mode {
	case FaultLatency:
		select {
		case <-time.After(s.Delay):
		case <-r.Context().Done():
			return true
		}
		return false
	case Fault500:
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
	case Fault401:
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
	case Fault404:
		http.Error(w, "REST interface disabled", http.StatusNotFound)
	case FaultHTML:
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, loginPage)
	case FaultGarbage:
		_, _ = w.Write([]byte{0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xff, 0xfe, 0x00, 0x7f})
	case FaultTruncated, DeviceRCMB, DevicePlugLock, DeviceConnector, DeviceBackend, DeviceOverheat, DeviceRCD:
		return false
	case FaultHang:
		<-r.Context().Done() // until the client gives up
	case ModbusException, ModbusHang, ModbusNoValue, ModbusCut:
		return false // Modbus faults: the REST view answers as usual
	}
	return true
}
