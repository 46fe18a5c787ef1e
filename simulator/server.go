package simulator

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options describe a simulated fleet.
type Options struct {
	Controllers int
	Seed        uint64
	// Firmware is "5.22", "5.33" or "mixed" (about a third on 5.22).
	Firmware string
	// Username and Password, when set, are required in the manufacturer's
	// headers; a request without them gets 401.
	Username, Password string
	Start              time.Time // the fleet's birth; zero means now
	// FirmwareOf overrides Firmware for some controllers (id → "5.12",
	// "5.22" or "5.33"); a 5.12 controller serves the 5.12 register set.
	FirmwareOf map[int]string
	// DLMSiteSize groups the controllers into DLM sites of this many: the
	// first of each is the master, the others its slaves (0: no DLM).
	DLMSiteSize int
	// Modbus is how every controller's Modbus TCP server behaves;
	// ModbusOf overrides it for some controllers (id → behaviour).
	Modbus   ModbusBehaviour
	ModbusOf map[int]ModbusBehaviour
	Now      func() time.Time // the clock; nil means time.Now
}

// Fleet is a set of simulated controllers behind one HTTP handler:
// controller i (1..N) answers at /cc/<i>/rest/full_state and /cc/<i>/rest/<key>.
type Fleet struct {
	opts        Options
	controllers []*Controller
	faults      []atomic.Pointer[FaultSpec]
	requests    []atomic.Int64
	bufs        sync.Pool
	modbusAddrs sync.Map // id → host:port of its Modbus server
}

// NewFleet builds the fleet.
func NewFleet(o Options) (*Fleet, error) {
	if o.Controllers < 1 {
		return nil, fmt.Errorf("need at least one controller, got %d", o.Controllers)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Start.IsZero() {
		o.Start = o.Now()
	}
	f := &Fleet{opts: o, faults: make([]atomic.Pointer[FaultSpec], o.Controllers+1), requests: make([]atomic.Int64, o.Controllers+1)}
	f.bufs.New = func() any { return new(bytes.Buffer) }
	for id := 1; id <= o.Controllers; id++ {
		fw := o.Firmware
		switch fw {
		case "mixed":
			fw = "5.33"
			if rand.New(rand.NewPCG(o.Seed, uint64(id)+1<<40)).IntN(3) == 0 {
				fw = "5.22"
			}
		case "5.12", "5.22", "5.33":
		default:
			return nil, fmt.Errorf("firmware %q: want 5.12, 5.22, 5.33 or mixed", o.Firmware)
		}
		if v, ok := o.FirmwareOf[id]; ok {
			if v != "5.12" && v != "5.22" && v != "5.33" {
				return nil, fmt.Errorf("controller %d: firmware %q: want 5.12, 5.22 or 5.33", id, v)
			}
			fw = v
		}
		f.controllers = append(f.controllers, newController(o.Seed, id, fw, o.Start))
	}
	return f, nil
}

// Controller returns controller id (1..N), or nil.
func (f *Fleet) Controller(id int) *Controller {
	if id < 1 || id > len(f.controllers) {
		return nil
	}
	return f.controllers[id-1]
}

// Len is the number of controllers.
func (f *Fleet) Len() int { return len(f.controllers) }

// Requests returns how many requests controller id has received.
func (f *Fleet) Requests(id int) int64 { return f.requests[id].Load() }

// SetFault makes controller id misbehave; nil restores it.
func (f *Fleet) SetFault(id int, spec *FaultSpec) { f.faults[id].Store(spec) }

// ServeHTTP routes /cc/<i>/rest/…, /control/cc/<i>/fault and the index.
func (f *Fleet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, "/cc/"):
		f.serveController(w, r, strings.TrimPrefix(path, "/cc/"))
	case strings.HasPrefix(path, "/control/cc/"):
		f.serveControl(w, r, strings.TrimPrefix(path, "/control/cc/"))
	case path == "/":
		f.serveIndex(w, r)
	default:
		http.NotFound(w, r)
	}
}

// controllerID splits "<i>/<rest>" and checks i.
func (f *Fleet) controllerID(s string) (int, string, bool) {
	idStr, rest, _ := strings.Cut(s, "/")
	id, err := strconv.Atoi(idStr)
	if err != nil || f.Controller(id) == nil {
		return 0, "", false
	}
	return id, rest, true
}

func (f *Fleet) serveController(w http.ResponseWriter, r *http.Request, p string) {
	id, rest, ok := f.controllerID(p)
	if !ok || !strings.HasPrefix(rest, "rest/") {
		http.NotFound(w, r)
		return
	}
	f.requests[id].Add(1)
	key := strings.TrimPrefix(rest, "rest/")
	if spec := f.faults[id].Load(); spec != nil {
		if spec.serve(w, r) {
			return
		}
	}
	if f.opts.Username != "" && (r.Header.Get("Username") != f.opts.Username || r.Header.Get("Password") != f.opts.Password) {
		w.Header().Set("Content-Type", "text/plain")
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	c := f.Controller(id)
	st := c.StateAt(f.opts.Now())
	if spec := f.faults[id].Load(); spec != nil && deviceFaults[spec.Mode] != NoFault {
		st = st.WithFault(deviceFaults[spec.Mode])
	}
	doc := c.Document(st)
	w.Header().Set("Content-Type", "text/plain")
	if key == "full_state" {
		buf := f.bufs.Get().(*bytes.Buffer)
		buf.Reset()
		c.Write(buf, doc)
		if spec := f.faults[id].Load(); spec != nil && spec.Mode == FaultTruncated {
			// A dropped connection: the full length is announced, half arrives.
			w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
			buf.Truncate(buf.Len() / 2)
		}
		_, _ = w.Write(buf.Bytes())
		f.bufs.Put(buf)
		return
	}
	v, ok := Value(doc, key)
	if !ok {
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write([]byte(v))
}

// serveControl: POST /control/cc/<i>/fault?mode=500 (or latency with
// &delay=2s) sets a fault, DELETE clears it, GET shows it.
func (f *Fleet) serveControl(w http.ResponseWriter, r *http.Request, p string) {
	id, rest, ok := f.controllerID(p)
	if !ok || rest != "fault" {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
		if spec := f.faults[id].Load(); spec != nil {
			_, _ = fmt.Fprintln(w, spec)
			return
		}
		_, _ = fmt.Fprintln(w, "none")
	case http.MethodDelete:
		f.SetFault(id, nil)
	case http.MethodPost, http.MethodPut:
		arg := r.URL.Query().Get("mode")
		if d := r.URL.Query().Get("delay"); d != "" {
			arg += ":" + d
		}
		spec, err := ParseFault(arg)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.SetFault(id, spec)
	default:
		http.Error(w, "GET, POST, PUT or DELETE", http.StatusMethodNotAllowed)
	}
}

func (f *Fleet) serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	now := f.opts.Now()
	_, _ = fmt.Fprintf(w, "Simulated Bender/ebee charge controllers: %d (seed %d)\n\n", len(f.controllers), f.opts.Seed)
	for _, c := range f.controllers {
		s := c.StateAt(now)
		fault := ""
		if spec := f.faults[c.ID].Load(); spec != nil {
			fault = " injected fault: " + spec.String()
		}
		mbAddr := ""
		if a := f.ModbusAddr(c.ID); a != "" {
			mbAddr = fmt.Sprintf("\tmodbus %s (%s, DLM %s, %s)", a, c.ModbusSet(), map[DLMRole]string{DLMDisabled: "off", DLMMaster: "master", DLMSlave: "slave"}[f.dlmRole(c.ID)], f.modbusBehaviour(c.ID))
		}
		_, _ = fmt.Fprintf(w, "/cc/%d/rest/full_state\tfw %s\t%s\t%s\t%.1f kW%s%s\n", c.ID, c.Firmware, c.Model,
			[]string{"idle", "connected", "charging", "finishing"}[s.Phase], s.Power/1000, fault, mbAddr)
	}
}
