// Package simulator imitates a fleet of Bender/ebee charge controllers
// answering the Legacy REST API, for demos, load tests and end-to-end tests.
//
// Every controller lives a deterministic life on the wall clock: a sequence
// of cycles (idle, vehicle connected, charging, finishing, now and then a
// fault) whose lengths and powers are drawn from a hash of the fleet seed,
// the controller and the cycle number. State is computed when asked for, not
// by a goroutine per controller; each controller only caches where its last
// cycle began, so that meter and contactor counters need not be summed from
// the start each time.
package simulator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Phase is where a controller is in its charging cycle.
type Phase int

// The phases of a cycle, in order.
const (
	Idle Phase = iota
	Connected
	Charging
	Finishing
)

// Fault is what goes wrong in a cycle, if anything.
type Fault int

// The faults a controller suffers now and then.
const (
	NoFault Fault = iota
	RCMBTrip
	PlugLocking
	BackendLost
	Overheating
	ConnectorError
	RCDTrip // only injected (rcd), never drawn for a cycle
)

// cycle is one idle → connected → charging → finishing round, in seconds.
type cycle struct {
	idle, connected, charging, finishing float64
	power                                float64 // W while charging
	phases                               int     // phases the vehicle draws on
	fault                                Fault
}

func (c cycle) length() float64 { return c.idle + c.connected + c.charging + c.finishing }

// blocked says the fault keeps the contactor open for the whole session.
func (c cycle) blocked() bool {
	return c.fault == PlugLocking || c.fault == ConnectorError || c.fault == RCMBTrip || c.fault == RCDTrip
}

// deliveredWh is the energy the session put through the meter.
func (c cycle) deliveredWh() float64 {
	if c.blocked() {
		return 0
	}
	return c.power * c.charging / 3600
}

// Controller is one simulated charge controller.
type Controller struct {
	ID           int
	Firmware     string // "5.22" or "5.33"
	Model        string
	Vendor       string
	Serial       string
	ManufSerial  string
	ChargePoint  string
	MeterType    string
	MeterSerial  string
	MaxCurrent   float64 // A
	ThreePhase   bool
	German       bool // UI language: errors say keine_fehler
	FixedCable   bool // cable_attached: on
	seed         uint64
	epoch        time.Time // cycle 0 starts here
	meterStartWh float64
	cyclesStart  int

	mu    sync.Mutex
	cache struct {
		k       int     // cycle number
		start   float64 // its start, seconds after epoch
		meterWh float64 // meter at its start
		cycles  int     // contactor cycles at its start
	}
}

var (
	models = []struct {
		name, vendor string
		three        bool
		max          float64
	}{
		{"CC612_2S0R_CC", "MENNEKES", true, 16},
		{"CC612_2M3PR", "MENNEKES", true, 32},
		{"CC613_2M3PR", "Bender", true, 32},
		{"CC612_1M1PR", "SMA", false, 16},
		{"CC613_2S3PR", "ebee", true, 32},
	}
	meterTypes = []string{"modbus_meter_nzr", "modbus_meter_eastron_sdm630", "internal_meter", "modbus_meter_garo_gnm3d", "modbus_meter_abb"}
)

// newController derives controller id's identity from the fleet seed.
func newController(seed uint64, id int, firmware string, start time.Time) *Controller {
	r := rand.New(rand.NewPCG(seed, uint64(id)))
	m := models[r.IntN(len(models))]
	c := &Controller{
		ID: id, Firmware: firmware, Model: m.name, Vendor: m.vendor, MaxCurrent: m.max, ThreePhase: m.three,
		Serial:       fmt.Sprintf("%010d/b9406%04d", 1700000000+r.IntN(99999999), id%10000),
		ChargePoint:  fmt.Sprintf("+49*839*%011d", id),
		MeterType:    meterTypes[r.IntN(len(meterTypes))],
		MeterSerial:  fmt.Sprintf("%08d", r.IntN(99999999)),
		German:       r.IntN(5) == 0,
		FixedCable:   r.IntN(2) == 0,
		seed:         seed,
		meterStartWh: float64(10000 + r.IntN(5000000)),
		cyclesStart:  r.IntN(20000),
	}
	c.ManufSerial = c.Serial[:10]
	// Start somewhere inside the first cycle, so that a new fleet is mixed.
	c.epoch = start.Add(-time.Duration(r.Float64() * c.cycle(0).length() * float64(time.Second)))
	c.cache.meterWh, c.cache.cycles = c.meterStartWh, c.cyclesStart
	return c
}

// cycle k of this controller, the same every time it is asked for.
func (c *Controller) cycle(k int) cycle {
	r := rand.New(rand.NewPCG(c.seed^0x9e3779b97f4a7c15, uint64(c.ID)<<32|uint64(k)))
	cy := cycle{
		idle:      30 + r.Float64()*300,
		connected: 10 + r.Float64()*30,
		charging:  120 + r.Float64()*900,
		finishing: 20 + r.Float64()*60,
		phases:    1,
	}
	if c.ThreePhase && r.IntN(4) != 0 {
		cy.phases = 3
	}
	// 3.7 kW (16 A on one phase) up to 22 kW (32 A on three), within the controller's limit.
	amps := min(c.MaxCurrent, 16+float64(r.IntN(17)))
	cy.power = 230 * amps * float64(cy.phases)
	if r.IntN(12) == 0 {
		cy.fault = Fault(1 + r.IntN(5))
	}
	return cy
}

// State is what a controller reports at one moment.
type State struct {
	Phase            Phase
	Fault            Fault
	Power            float64   // W
	Currents         []float64 // A, per phase
	Voltages         []float64 // V, per phase
	MeterWh          float64
	TransactionWh    float64
	SinceChargeStart float64 // s
	SignaledCurrent  float64 // A
	ContactorCycles  int
	AmbientTemp      float64 // °C
	RCMB, RCMBMax    [2]float64
	AuthUID          string
	Authorized       bool
	Backend          string
	CableRating      string // type2_proximity when a cable is plugged
	CycleNumber      int
}

// StateAt computes the controller's state at t.
func (c *Controller) StateAt(t time.Time) State {
	at := t.Sub(c.epoch).Seconds()
	if at < 0 {
		at = 0
	}
	c.mu.Lock()
	if at < c.cache.start { // asked about the past: start again from the beginning
		c.cache.k, c.cache.start, c.cache.meterWh, c.cache.cycles = 0, 0, c.meterStartWh, c.cyclesStart
	}
	k, start, meter, cycles := c.cache.k, c.cache.start, c.cache.meterWh, c.cache.cycles
	cy := c.cycle(k)
	for at >= start+cy.length() {
		start += cy.length()
		meter += cy.deliveredWh()
		if !cy.blocked() {
			cycles++
		}
		k++
		cy = c.cycle(k)
	}
	c.cache.k, c.cache.start, c.cache.meterWh, c.cache.cycles = k, start, meter, cycles
	c.mu.Unlock()

	s := State{MeterWh: meter, ContactorCycles: cycles, Backend: "connected", Fault: cy.fault, CycleNumber: k}
	noise := rand.New(rand.NewPCG(c.seed, uint64(c.ID)<<32|uint64(at))) // changes once a second
	in := at - start
	switch {
	case in < cy.idle:
		s.Phase = Idle
	case in < cy.idle+cy.connected:
		s.Phase = Connected
	case in < cy.idle+cy.connected+cy.charging:
		s.Phase = Charging
	default:
		s.Phase = Finishing
	}
	if s.Phase >= Connected {
		s.AuthUID = fmt.Sprintf("04%06x%06x", c.ID, k)
		s.CableRating = []string{"20", "32"}[k%2]
	}
	s.Authorized = in >= cy.idle+cy.connected
	if s.Phase >= Charging && cy.blocked() {
		s.Phase = Connected // the fault keeps the contactor open
	}
	if s.Phase >= Charging {
		charged := min(in-cy.idle-cy.connected, cy.charging)
		s.TransactionWh = cy.power * charged / 3600
		s.MeterWh += s.TransactionWh
		s.SinceChargeStart = in - cy.idle - cy.connected
		s.ContactorCycles++
	}
	if s.Phase == Charging {
		s.Power = cy.power
		s.SignaledCurrent = cy.power / 230 / float64(cy.phases)
	}
	s.Voltages = make([]float64, 3)
	s.Currents = make([]float64, 3)
	for p := range 3 {
		s.Voltages[p] = 229 + noise.Float64()*3
		if s.Phase == Charging && p < cy.phases {
			s.Currents[p] = s.SignaledCurrent - 0.2 + noise.Float64()*0.3
		}
	}
	if s.Power > 0 {
		s.Power *= 0.995 + noise.Float64()*0.01 // what the meter shows wobbles; the energy does not
	}
	// A day's swing, warmer while charging; an overheating cycle climbs to ~75 °C.
	s.AmbientTemp = 18 + 6*math.Sin(2*math.Pi*float64(t.Unix()%86400)/86400) + s.Power/2000
	if cy.fault == Overheating && s.Phase >= Connected {
		s.AmbientTemp = 60 + 15*min(1, (in-cy.idle)/120)
	}
	s.RCMB = [2]float64{noise.Float64() * 1.5, noise.Float64() * 0.5}
	s.RCMBMax = [2]float64{1.5 + float64(c.ID%3), 0.5}
	if cy.fault == RCMBTrip && s.Phase >= Connected {
		s.RCMB[0], s.RCMBMax[0] = 30+noise.Float64()*5, 36
	}
	if cy.fault == BackendLost {
		s.Backend = "not_connected"
	}
	return s
}

// WithFault returns the state as it is while a fault strikes: a vehicle
// connected and the session held up where the fault stops charging.
func (s State) WithFault(f Fault) State {
	s.Fault = f
	if s.Phase == Idle && f != BackendLost {
		s.Phase, s.Authorized = Connected, true
	}
	switch f {
	case RCMBTrip, RCDTrip, PlugLocking, ConnectorError:
		if s.Phase == Charging {
			s.Phase, s.Power, s.Currents = Connected, 0, []float64{0, 0, 0}
		}
	case BackendLost:
		s.Backend = "not_connected"
	case Overheating:
		s.AmbientTemp = 74
	}
	if f == RCMBTrip {
		s.RCMB[0], s.RCMBMax[0] = 31.5, 36
	}
	return s
}
