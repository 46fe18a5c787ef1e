package admission

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Decision says how a /probe request is served.
type Decision int

// The decisions of Admit.
const (
	// Probe: probe the controller within Ticket.Timeout.
	Probe Decision = iota
	// AnswerNow: answer at once, 200 with bender_cc_up 0, for Ticket.Reason.
	AnswerNow
	// Refuse: answer HTTP 503 at once, for Ticket.Reason.
	Refuse
)

// Reasons a probe is not a plain one: the reason label of
// bender_cc_exporter_probes_answered_early_total, the admission label of
// bender_cc_failure_info, and for Refuse the reason label of
// bender_cc_exporter_probe_requests_refused_total.
const (
	// ReasonTrial: the target's last probes timed out; this probe is a
	// trial that waits only as long as the target usually needs.
	ReasonTrial = "trial"
	// ReasonCircuitOpen: the target's last probes timed out and a trial
	// is in flight: answered at once.
	ReasonCircuitOpen = "circuit_open"
	// ReasonTargetCap: Bounds.PerTarget probes of the target are in
	// flight: answered at once when its last probe failed, else refused.
	ReasonTargetCap = "target_cap"
	// ReasonCapacity: no room to wait, and the target's last probe failed:
	// answered at once.
	ReasonCapacity = "capacity"
	// ReasonPreempted: the probe had waited longer than its target needs,
	// without an answer, and a newcomer needed its room.
	ReasonPreempted = "preempted"
	// ReasonOverloaded: no room, nothing to preempt, and the target's
	// last probe did not fail (or was refused): HTTP 503.
	ReasonOverloaded = "overloaded"
)

// earlyReasons are the reasons counted as answered early.
var earlyReasons = []string{ReasonTrial, ReasonCircuitOpen, ReasonTargetCap, ReasonCapacity, ReasonPreempted}

// ErrPreempted is the cause of a preempted probe's context.
var ErrPreempted = errors.New("preempted")

// preemptScan bounds how many of the oldest waiting probes a newcomer
// looks at for one to preempt.
const preemptScan = 64

// Controller admits probes: it bounds the probes waiting and working (see
// Bounds), keeps the per-target state, opens a target's circuit when its
// probes time out (then each scrape is a trial, one at a time), and when
// the waiting room is full makes room by preempting the oldest probe that
// has waited longer than its target needs, unless the CPU is short (then
// every probe is slow, and a 503 is the honest answer). A 503 is never
// given to the same target twice in a row while others are served.
type Controller struct {
	bounds Bounds
	// Tests set these before the first Admit.
	now     func() time.Time
	rnd     func() float64
	cpuBusy func(time.Time) bool

	mu      sync.Mutex
	targets targets
	waiting list.List // *Ticket waiting, oldest first
	working int
	metrics *metrics
}

// New returns a Controller within b and registers its metrics with reg
// (if not nil).
func New(b Bounds, reg prometheus.Registerer) *Controller {
	c := &Controller{bounds: b, now: time.Now, rnd: defaultRand}
	c.targets.max = b.Targets
	sched := &schedLatency{}
	c.cpuBusy = sched.busy
	c.metrics = newMetrics(c, reg)
	return c
}

// Saturated says whether probes in flight are at the hard bound, past
// which not even a target refused last time gets in: a request can be
// refused before any work for it (the allowlist's DNS lookup included).
func (c *Controller) Saturated() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bounds.InFlight > 0 && c.inFlight() >= c.hardBound()
}

// SetCPUBusy replaces the scheduler's latency as the sign that the CPU is
// short (no probe is preempted while busy says so): for tests, which must
// not depend on how loaded the machine running them is. Call it before the
// first Admit.
func (c *Controller) SetCPUBusy(busy func(time.Time) bool) { c.cpuBusy = busy }

// Bounds returns the bounds in force.
func (c *Controller) Bounds() Bounds { return c.bounds }

// Ticket is the admission of one /probe request. For Probe, the caller
// calls Working when the controller's answer starts to arrive and Done
// when the probe has ended.
type Ticket struct {
	Decision Decision
	// Reason is why the probe is not a plain one ("" for a plain one).
	Reason string
	// Timeout is how long a probe may wait (a trial's is shortened).
	Timeout time.Duration
	// Patience is how long the target usually needs, with a margin.
	Patience time.Duration
	// LastResult is the result of the target's last probe (AnswerNow).
	LastResult string

	c                     *Controller
	t                     *target
	el                    *list.Element // in c.waiting while waiting
	start                 time.Time
	cancel                context.CancelCauseFunc
	working, done         bool
	trial, long           bool
	preempted, shortTrial bool
}

// Admit decides how to serve a probe of key (the module and the address)
// that may wait timeout. cancel cancels the probe's context: Admit of
// another request may call it with ErrPreempted.
func (c *Controller) Admit(key string, timeout time.Duration, cancel context.CancelCauseFunc) *Ticket {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	t, evicted := c.targets.get(key, now)
	c.metrics.evicted.Add(float64(evicted))
	if t == nil {
		return c.refuse(nil, ReasonOverloaded)
	}
	tk := &Ticket{c: c, t: t, Timeout: timeout, Patience: t.patience(timeout), LastResult: t.lastResult, start: now, cancel: cancel}
	if t.open() {
		if t.trial {
			return c.answerNow(tk, ReasonCircuitOpen)
		}
		tk.trial = true
		if !now.Before(t.longAt) && (c.bounds.InFlight == 0 || c.inFlight() < c.bounds.InFlight/2) {
			tk.long = true // the whole timeout, now and then, when there is room
		} else {
			tk.Timeout, tk.Reason, tk.shortTrial = tk.Patience, ReasonTrial, true
		}
	}
	if c.bounds.PerTarget > 0 && t.inFlight >= c.bounds.PerTarget {
		if t.failing() {
			return c.answerNow(tk, ReasonTargetCap)
		}
		return c.refuse(t, ReasonTargetCap)
	}
	// Full: make room by preempting a waiting probe (which helps only when
	// waiting probes fill it), or decide who goes without.
	if c.full() && (!c.waitingFull() || !c.preempt(now)) {
		switch {
		case t.refused && c.inFlight() < c.hardBound():
			// Refused last time: in over the bound, so that no target
			// is refused twice in a row while others are served.
		case t.failing():
			return c.answerNow(tk, ReasonCapacity)
		default:
			return c.refuse(t, ReasonOverloaded)
		}
	}
	t.refused = false
	t.inFlight++
	if tk.trial {
		t.trial = true
	}
	tk.el = c.waiting.PushBack(tk)
	return tk
}

func (c *Controller) answerNow(tk *Ticket, reason string) *Ticket {
	c.metrics.early[reason].Inc()
	return &Ticket{Decision: AnswerNow, Reason: reason, LastResult: tk.LastResult}
}

func (c *Controller) refuse(t *target, reason string) *Ticket {
	if t != nil {
		t.refused = true
	}
	return &Ticket{Decision: Refuse, Reason: reason}
}

func (c *Controller) inFlight() int { return c.waiting.Len() + c.working }

// waitingFull says whether the bound on waiting probes or on all probes
// in flight is reached (a preempted waiting probe makes room in both).
func (c *Controller) waitingFull() bool {
	b := c.bounds
	return b.Waiting > 0 && c.waiting.Len() >= b.Waiting || b.InFlight > 0 && c.inFlight() >= b.InFlight
}

func (c *Controller) full() bool {
	return c.waitingFull() || c.bounds.Working > 0 && c.working >= c.bounds.Working
}

// hardBound is how far past InFlight targets refused last time get in.
func (c *Controller) hardBound() int { return c.bounds.InFlight + max(1, c.bounds.InFlight/8) }

// preempt cancels the oldest waiting probe that has waited longer than
// its target's patience, unless the CPU is short: then probes wait for
// the CPU, not for their controllers, and none is given up.
func (c *Controller) preempt(now time.Time) bool {
	if c.cpuBusy(now) {
		return false
	}
	n := 0
	for el := c.waiting.Front(); el != nil && n < preemptScan; el, n = el.Next(), n+1 {
		tk := el.Value.(*Ticket)
		if now.Sub(tk.start) < tk.Patience {
			continue
		}
		tk.preempted = true
		c.waiting.Remove(el)
		tk.el = nil
		c.metrics.early[ReasonPreempted].Inc()
		if tk.cancel != nil {
			tk.cancel(ErrPreempted)
		}
		return true
	}
	return false
}

// Working says the controller's answer has started to arrive: the probe
// now holds its answer's buffers.
func (tk *Ticket) Working() {
	if tk == nil || tk.c == nil {
		return
	}
	c := tk.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if tk.done || tk.working || tk.preempted {
		return
	}
	if tk.el != nil {
		c.waiting.Remove(tk.el)
		tk.el = nil
	}
	tk.working = true
	c.working++
}

// Done ends a probe: result is its outcome (the result label of
// bender_cc_exporter_probes_total), took how long it waited.
func (tk *Ticket) Done(result string, took time.Duration) {
	if tk == nil || tk.c == nil {
		return
	}
	c := tk.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if tk.done {
		return
	}
	tk.done = true
	if tk.el != nil {
		c.waiting.Remove(tk.el)
		tk.el = nil
	}
	if tk.working {
		c.working--
	}
	t := tk.t
	t.inFlight--
	if tk.trial {
		t.trial = false
	}
	if tk.preempted {
		result = resultTimeout // it waited past its patience without an answer
	}
	if tk.shortTrial && result == resultTimeout && !tk.preempted {
		c.metrics.early[ReasonTrial].Inc()
	}
	switch t.record(result, took, tk.long, c.now(), c.rnd) {
	case 1:
		c.targets.open++
		c.metrics.opened.Inc()
	case -1:
		c.targets.open--
	}
}
