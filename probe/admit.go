package probe

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptrace"
	"time"

	"github.com/bender-cc/bender_cc_exporter/admission"
	"github.com/bender-cc/bender_cc_exporter/collector"
)

// AdmissionProbed is the admission label of bender_cc_failure_info for a
// probe that waited its whole timeout (the other values are the
// admission package's reasons).
const AdmissionProbed = "probed"

// earlyAnswer is the error of a probe answered at once: what admission
// knows of the target instead of a probe.
type earlyAnswer struct {
	reason, last string
}

func (e *earlyAnswer) Error() string {
	last := e.last
	if last == "" {
		last = "none yet"
	}
	switch e.reason {
	case admission.ReasonCircuitOpen:
		return "not probed now: this target's last probes timed out and a trial probe of it is in flight (circuit open; every scrape tries it, one at a time); last result: " + last
	case admission.ReasonTargetCap:
		return "not probed now: too many probes of this target are in flight already (a scrape interval shorter than the timeout, or a flood); last result: " + last
	}
	return "not probed now: the exporter has no room to wait for this target (its bound on waiting probes is full) and its last probe failed; last result: " + last
}

// classifyEarly is the result of an early answer: its target's last.
func classifyEarly(err error) (string, bool) {
	var e *earlyAnswer
	if !errors.As(err, &e) {
		return "", false
	}
	if e.last == "" {
		return ResultTimeout, true
	}
	return e.last, true
}

// admitted runs a probe admission allowed, within its ticket's timeout,
// tells the ticket when the answer starts to arrive, and says how the probe was served (the admission label of
// bender_cc_failure_info).
func (h *Handler) admitted(ctx context.Context, req *request, tk *admission.Ticket) (res collector.Result, shared, follower bool, how string) {
	how = AdmissionProbed
	if tk != nil {
		req.timeout = tk.Timeout
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotFirstResponseByte: tk.Working})
	}
	res, shared, follower = h.probe(ctx, req)
	if tk == nil {
		return res, shared, follower, how
	}
	switch {
	case errors.Is(context.Cause(ctx), admission.ErrPreempted):
		how = admission.ReasonPreempted
		res.Err = fmt.Errorf("%w: no answer after %s, longer than the %s this target usually needs; given up to make room for another probe (the exporter is at its bound on waiting probes)",
			collector.ErrTimeout, res.Duration.Round(time.Millisecond), tk.Patience)
	case tk.Reason == admission.ReasonTrial:
		how = admission.ReasonTrial
		if Classify(res.Err) == ResultTimeout {
			res.Err = fmt.Errorf("%w: no answer within %s (a trial: this target's last probes timed out, so it is tried for as long as it usually needs, 4 times its slowest recent answer and at least 1s)",
				collector.ErrTimeout, tk.Timeout)
		}
	}
	tk.Working() // the answer is written now, whatever the phase was (Done ends it)
	return res, shared, follower, how
}
