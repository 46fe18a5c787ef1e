package admission

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// clock is a fake clock for the Controller.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// newTest returns a Controller within b on a fake clock, with the
// jitter's factor fixed at 1 and a CPU that is never short unless busy is set.
func newTest(b Bounds) (*Controller, *clock, *bool) {
	c := New(b, prometheus.NewRegistry())
	clk := &clock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	busy := new(bool)
	c.now, c.rnd, c.cpuBusy = clk.now, func() float64 { return 0.5 }, func(time.Time) bool { return *busy }
	return c, clk, busy
}

var roomy = Bounds{Waiting: 100, Working: 100, InFlight: 200, PerTarget: 4, Targets: 100}

const timeout = 9500 * time.Millisecond

// probe admits a probe of key, lets it wait took and ends it with result.
func probe(t *testing.T, c *Controller, clk *clock, key, result string, took time.Duration) *Ticket {
	t.Helper()
	tk := c.Admit(key, timeout, nil)
	if tk.Decision != Probe {
		t.Fatalf("%s: decision %v (%s), want a probe", key, tk.Decision, tk.Reason)
	}
	clk.advance(took)
	tk.Done(result, took)
	return tk
}

// TestCircuit: two timeouts in a row open the circuit; then each scrape is
// a trial waiting what the target's history allows, one at a time (a
// second request meanwhile is answered at once), until a trial succeeds.
func TestCircuit(t *testing.T) {
	c, clk, _ := newTest(roomy)
	probe(t, c, clk, "a", resultSuccess, 100*time.Millisecond)
	probe(t, c, clk, "a", resultTimeout, timeout)
	if tk := probe(t, c, clk, "a", resultTimeout, timeout); tk.Reason != "" || tk.Timeout != timeout {
		t.Fatalf("the second probe after one timeout: reason %q, timeout %s; want a plain one", tk.Reason, tk.Timeout)
	}
	if n := testutil.ToFloat64(c.metrics.opened); n != 1 {
		t.Errorf("circuits opened %g, want 1", n)
	}
	trial := c.Admit("a", timeout, nil)
	if trial.Decision != Probe || trial.Reason != ReasonTrial || trial.Timeout != 4*100*time.Millisecond+600*time.Millisecond {
		t.Fatalf("trial: %v %q %s; want a trial of 1s (4 x 100ms, at least 1s)", trial.Decision, trial.Reason, trial.Timeout)
	}
	if tk := c.Admit("a", timeout, nil); tk.Decision != AnswerNow || tk.Reason != ReasonCircuitOpen || tk.LastResult != resultTimeout {
		t.Fatalf("beside the trial: %v %q %q; want an answer at once, circuit_open, last result timeout", tk.Decision, tk.Reason, tk.LastResult)
	}
	clk.advance(time.Second)
	trial.Done(resultTimeout, time.Second)
	if n := testutil.ToFloat64(c.metrics.early[ReasonTrial]); n != 1 {
		t.Errorf("trials run out %g, want 1", n)
	}
	// The controller is back: the next scrape's trial reads it, the circuit closes.
	if tk := probe(t, c, clk, "a", resultSuccess, 30*time.Millisecond); tk.Reason != ReasonTrial {
		t.Fatalf("after a failed trial: %q, want another trial", tk.Reason)
	}
	if tk := probe(t, c, clk, "a", resultSuccess, 30*time.Millisecond); tk.Reason != "" || tk.Timeout != timeout {
		t.Errorf("after a successful trial: reason %q, timeout %s; want a plain probe", tk.Reason, tk.Timeout)
	}
	if c.targets.open != 0 {
		t.Errorf("%d circuits open, want 0", c.targets.open)
	}
}

// TestTrialPatience: a trial waits 4 times the target's slowest recent
// answer, at least 1s, at most the timeout; a target never seen up 1s.
func TestTrialPatience(t *testing.T) {
	for _, tt := range []struct {
		name    string
		slowest time.Duration
		want    time.Duration
	}{
		{"never seen up", 0, time.Second},
		{"LAN", 20 * time.Millisecond, time.Second},
		{"LTE", 1500 * time.Millisecond, 6 * time.Second},
		{"slower than the timeout allows", 4 * time.Second, timeout},
	} {
		c, clk, _ := newTest(roomy)
		if tt.slowest > 0 {
			probe(t, c, clk, "a", resultSuccess, tt.slowest)
		}
		probe(t, c, clk, "a", resultTimeout, timeout)
		probe(t, c, clk, "a", resultTimeout, timeout)
		if tk := c.Admit("a", timeout, nil); tk.Timeout != tt.want {
			t.Errorf("%s: trial of %s, want %s", tt.name, tk.Timeout, tt.want)
		}
	}
}

// TestLongTrials: a minute after the circuit opened (jittered), one trial
// waits the whole timeout; each that fails doubles the span, up to 15
// minutes; a success forgets it.
func TestLongTrials(t *testing.T) {
	c, clk, _ := newTest(roomy)
	probe(t, c, clk, "a", resultTimeout, timeout)
	probe(t, c, clk, "a", resultTimeout, timeout)
	for _, span := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
		end := clk.t.Add(span)
		for clk.t.Before(end) {
			tk := probe(t, c, clk, "a", resultTimeout, time.Second)
			if tk.Timeout != time.Second {
				t.Fatalf("%s before the long trial due after %s: trial of %s", end.Sub(clk.t), span, tk.Timeout)
			}
			clk.advance(14 * time.Second)
		}
		if tk := probe(t, c, clk, "a", resultTimeout, timeout); tk.Timeout != timeout || tk.Reason != "" {
			t.Fatalf("long trial due after %s: %s %q, want the whole timeout", span, tk.Timeout, tk.Reason)
		}
	}
	if got := jitter(time.Minute, func() float64 { return 0 }); got != 30*time.Second {
		t.Errorf("jitter at 0: %s", got)
	}
	if got := jitter(time.Minute, func() float64 { return 0.999 }); got < 89*time.Second || got >= 90*time.Second {
		t.Errorf("jitter near 1: %s", got)
	}
}

// TestPreempt: at the waiting bound a newcomer takes the room of the
// oldest probe that has waited past its target's patience (its context is
// cancelled with ErrPreempted), never of one within it, and none while the
// CPU is short.
func TestPreempt(t *testing.T) {
	c, clk, busy := newTest(Bounds{Waiting: 2, Working: 2, InFlight: 4, PerTarget: 4, Targets: 100})
	ctx1, cancel1 := context.WithCancelCause(context.Background())
	dark1 := c.Admit("dark1", timeout, cancel1)
	clk.advance(100 * time.Millisecond)
	ctx2, cancel2 := context.WithCancelCause(context.Background())
	dark2 := c.Admit("dark2", timeout, cancel2)
	if dark1.Decision != Probe || dark2.Decision != Probe {
		t.Fatal("the first two probes were not admitted")
	}
	clk.advance(500 * time.Millisecond)
	if tk := c.Admit("healthy", timeout, nil); tk.Decision != Refuse || tk.Reason != ReasonOverloaded {
		t.Fatalf("full, nothing overdue: %v %q, want 503 overloaded", tk.Decision, tk.Reason)
	}
	clk.advance(time.Second)
	*busy = true
	if tk := c.Admit("healthy2", timeout, nil); tk.Decision != Refuse {
		t.Fatalf("full, CPU short: %v, want 503", tk.Decision)
	}
	*busy = false
	if tk := c.Admit("healthy3", timeout, nil); tk.Decision != Probe {
		t.Fatalf("full, two overdue: %v %q, want a probe", tk.Decision, tk.Reason)
	}
	if !errors.Is(context.Cause(ctx1), ErrPreempted) || ctx2.Err() != nil {
		t.Fatalf("preempted: oldest %v, second %v; want the oldest only", context.Cause(ctx1), ctx2.Err())
	}
	dark1.Done(resultTimeout, 1600*time.Millisecond) // as the probe ends, cancelled
	if n := testutil.ToFloat64(c.metrics.early[ReasonPreempted]); n != 1 {
		t.Errorf("preempted %g, want 1", n)
	}
	if c.waiting.Len() != 2 || c.targets.m["dark1"].inFlight != 0 || c.targets.m["dark1"].timeouts != 1 {
		t.Errorf("after preempting: %d waiting, dark1 %+v", c.waiting.Len(), *c.targets.m["dark1"])
	}
}

// TestFairRefusal: when the exporter is full with probes it cannot give up
// (working ones, or the CPU short), a 503 goes to a target at most once in
// a row while others are served; a target whose last probe failed is
// answered at once instead (200, bender_cc_up 0).
func TestFairRefusal(t *testing.T) {
	c, clk, _ := newTest(Bounds{Waiting: 8, Working: 2, InFlight: 10, PerTarget: 4, Targets: 100})
	probe(t, c, clk, "failing", resultTimeout, timeout)
	for _, k := range []string{"w1", "w2"} {
		c.Admit(k, timeout, nil).Working()
	}
	refused := map[string]bool{}
	for round := range 4 {
		for _, k := range []string{"a", "b", "c"} {
			tk := c.Admit(k, timeout, nil)
			switch {
			case tk.Decision == Refuse && refused[k]:
				t.Fatalf("round %d: %s refused twice in a row", round, k)
			case tk.Decision == Refuse:
				refused[k] = true
			case tk.Decision == Probe:
				refused[k] = false
				clk.advance(10 * time.Millisecond)
				tk.Working()
				tk.Done(resultSuccess, 10*time.Millisecond)
			}
		}
	}
	if tk := c.Admit("failing", timeout, nil); tk.Decision != AnswerNow || tk.Reason != ReasonCapacity || tk.LastResult != resultTimeout {
		t.Errorf("a failing target when full: %v %q %q, want an answer at once, capacity, timeout", tk.Decision, tk.Reason, tk.LastResult)
	}
}

// TestTargetCap: past PerTarget probes of one target, a target whose last
// probe failed is answered at once; another is refused.
func TestTargetCap(t *testing.T) {
	c, clk, _ := newTest(Bounds{Waiting: 100, Working: 100, InFlight: 200, PerTarget: 2, Targets: 100})
	c.Admit("a", timeout, nil)
	c.Admit("a", timeout, nil)
	if tk := c.Admit("a", timeout, nil); tk.Decision != Refuse || tk.Reason != ReasonTargetCap {
		t.Errorf("third probe of a healthy target: %v %q, want refused, target_cap", tk.Decision, tk.Reason)
	}
	probe(t, c, clk, "b", resultTimeout, timeout)
	c.Admit("b", timeout, nil)
	c.Admit("b", timeout, nil)
	if tk := c.Admit("b", timeout, nil); tk.Decision != AnswerNow || tk.Reason != ReasonTargetCap {
		t.Errorf("third probe of a failing target: %v %q, want an answer at once, target_cap", tk.Decision, tk.Reason)
	}
}

// TestTargetsBounded: at the bound the least recently seen target is
// forgotten (never one with probes in flight); a target not seen for 30
// minutes is forgotten; an open circuit forgotten no longer counts.
func TestTargetsBounded(t *testing.T) {
	c, clk, _ := newTest(Bounds{Waiting: 100, Working: 100, InFlight: 200, PerTarget: 4, Targets: 3})
	probe(t, c, clk, "a", resultTimeout, timeout)
	probe(t, c, clk, "a", resultTimeout, timeout)
	busy := c.Admit("b", timeout, nil)
	probe(t, c, clk, "c", resultSuccess, time.Millisecond)
	if c.targets.open != 1 {
		t.Fatalf("%d open, want 1", c.targets.open)
	}
	probe(t, c, clk, "d", resultSuccess, time.Millisecond) // a goes: least recently seen
	if _, ok := c.targets.m["a"]; ok || len(c.targets.m) != 3 || c.targets.open != 0 {
		t.Fatalf("after a fourth target: %d tracked, a kept %v, %d open", len(c.targets.m), ok, c.targets.open)
	}
	probe(t, c, clk, "e", resultSuccess, time.Millisecond) // b is in flight: c goes
	if _, ok := c.targets.m["b"]; !ok {
		t.Fatal("a target with a probe in flight was forgotten")
	}
	busy.Done(resultSuccess, time.Millisecond)
	clk.advance(31 * time.Minute)
	probe(t, c, clk, "f", resultSuccess, time.Millisecond)
	if len(c.targets.m) != 1 {
		t.Errorf("after 31 minutes: %d tracked, want 1 (f)", len(c.targets.m))
	}
	if n := testutil.ToFloat64(c.metrics.evicted); n != 5 { // a, c at the bound; b, d, e expired
		t.Errorf("forgotten %g, want 5", n)
	}
}

// TestPhases: a probe waits until Working, then counts against the
// working bound; a working probe is never preempted.
func TestPhases(t *testing.T) {
	c, clk, _ := newTest(Bounds{Waiting: 1, Working: 2, InFlight: 3, PerTarget: 4, Targets: 100})
	a := c.Admit("a", timeout, nil)
	a.Working()
	if c.waiting.Len() != 0 || c.working != 1 {
		t.Fatalf("after Working: %d waiting, %d working", c.waiting.Len(), c.working)
	}
	b := c.Admit("b", timeout, nil)
	clk.advance(5 * time.Second)
	if tk := c.Admit("c", timeout, nil); tk.Decision != Probe {
		t.Fatalf("waiting full with one overdue: %v, want a probe (b preempted)", tk.Decision)
	}
	if !b.preempted || a.preempted {
		t.Errorf("preempted: a %v, b %v; want b only", a.preempted, b.preempted)
	}
	a.Done(resultSuccess, 5*time.Second)
	if c.working != 0 {
		t.Errorf("%d working after Done", c.working)
	}
}

// TestQuantileAbove: the CPU counts as short when the 99th percentile of
// the scheduler's latency is above the limit, never on a few samples.
func TestQuantileAbove(t *testing.T) {
	buckets := []float64{0, 0.001, 0.01, 0.1, 1}
	for _, tt := range []struct {
		counts []uint64
		want   bool
	}{
		{[]uint64{1000, 0, 0, 0}, false},
		{[]uint64{900, 90, 9, 1}, false},
		{[]uint64{900, 50, 20, 30}, true},
		{[]uint64{0, 0, 5, 5}, false}, // 10 samples: idle
	} {
		var total uint64
		for _, n := range tt.counts {
			total += n
		}
		if got := quantileAbove(tt.counts, buckets, total, 0.99, 0.05); got != tt.want {
			t.Errorf("%v: %v, want %v", tt.counts, got, tt.want)
		}
	}
	var s schedLatency
	s.busy(time.Now()) // reads the runtime's histogram without failing
}
