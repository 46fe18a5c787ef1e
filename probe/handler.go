// Package probe serves /probe: one scrape of one charge controller.
package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bender-cc/bender_cc_exporter/admission"
	"github.com/bender-cc/bender_cc_exporter/collector"
	"github.com/bender-cc/bender_cc_exporter/config"
	"github.com/bender-cc/bender_cc_exporter/modbus"
)

// Handler serves /probe?target=<address or configured name>&module=<name>.
type Handler struct {
	Config *config.Holder
	Logger log.Logger
	// TimeoutOffset is kept free of Prometheus' scrape timeout so that the
	// answer arrives before Prometheus gives up.
	TimeoutOffset time.Duration
	// Metrics counts probes and refusals; nil counts nothing.
	Metrics *Metrics
	// Admission decides which probes are served and how (see
	// admission.Controller); nil serves every probe, without bounds.
	Admission *admission.Controller

	// flights lets concurrent probes of one controller with one module
	// share one request.
	flights flights

	// refusals bounds the log lines of refused requests.
	refusals logLimiter
	// failures keeps a failing controller from logging on every scrape.
	failures failureLog
	// sourceFailures does the same for one source of a [rest, modbus] probe.
	sourceFailures sourceFailures
}

// request is a resolved /probe request.
type request struct {
	target, moduleName string
	base               *url.URL
	module             *config.Module
	client             *http.Client
	modbus             *url.URL      // modbus://host:port for a module reading Modbus, else nil
	dial               modbus.Dialer // the module's dialer, for Modbus
	labels             prometheus.Labels
	timeout            time.Duration
	// failed is set when the probe has failed before it started (a host
	// name that does not resolve).
	failed error
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// At the hard bound, shed load before any work (the allowlist's DNS
	// lookup included): a queue would hold a goroutine, a connection and
	// the answer's memory per waiting probe.
	if h.Admission != nil && h.Admission.Saturated() {
		h.refuse(w, r, overloaded(h.Admission.Bounds()))
		return
	}
	req, ref := h.resolve(r)
	if ref != nil {
		h.refuse(w, r, ref)
		return
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	var tk *admission.Ticket
	if h.Admission != nil && req.failed == nil {
		tk = h.Admission.Admit(req.moduleName+"\x00"+req.base.String(), req.timeout, cancel)
		if tk.Decision == admission.Refuse {
			h.refuse(w, r, refusalOf(tk, h.Admission.Bounds()))
			return
		}
	}
	if h.Metrics != nil {
		h.Metrics.inFlight.Inc()
	}
	var (
		res              collector.Result
		shared, follower bool
		how              = AdmissionProbed
	)
	switch {
	case req.failed != nil:
		res.Err = req.failed
	case tk != nil && tk.Decision == admission.AnswerNow:
		res.Err, how = &earlyAnswer{reason: tk.Reason, last: tk.LastResult}, tk.Reason
	default:
		res, shared, follower, how = h.admitted(ctx, req, tk)
	}
	result := Classify(res.Err)
	if res.Err != nil {
		res.Failure = &collector.Failure{Result: result, Admission: how}
	}
	if h.Metrics != nil {
		h.Metrics.inFlight.Dec()
		h.Metrics.observe(req.moduleName, result, res.Duration, follower)
	}
	h.sourceFailures.log(h.Logger, req, res)
	h.failures.logOutcome(h.Logger, req.moduleName, req.target, result, how, res.Err, res.Duration)
	if res.Err == nil && len(res.State.Unknown)+len(res.State.Invalid) > 0 {
		logResult(log.With(h.Logger, "target", req.target, "module", req.moduleName), res.State)
	}

	if r.URL.Query().Get("debug") == "true" {
		reg := prometheus.NewRegistry()
		prometheus.WrapRegistererWith(req.labels, reg).MustRegister(collector.New(res))
		debugView(req)(w, req, res, shared, reg)
	} else {
		// The text format straight from the result: what a registry holding
		// collector.New(res) would expose (see collector.WriteText), without
		// building a registry per probe. Not compressed: the answer is ~10 KiB
		// and gzip would cost more CPU than the whole probe.
		buf := collector.BufferPool.Get().(*bytes.Buffer)
		buf.Reset()
		collector.WriteText(buf, res, req.labels)
		w.Header().Set("Content-Type", textContentType)
		w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
		_, _ = w.Write(buf.Bytes())
		collector.BufferPool.Put(buf)
	}
	if tk != nil && tk.Decision == admission.Probe {
		tk.Done(result, res.Duration)
	}
}

// overloaded is the refusal at the bounds.
func overloaded(b admission.Bounds) *refusal {
	return &refusal{http.StatusServiceUnavailable, RefusedOverloaded,
		fmt.Errorf("the exporter is at its bounds (%d probes waiting, %d working, %d in flight: --probe.max-waiting, --probe.max-working, --probe.max-in-flight; or the CPU is short) and nothing it may give up holds them", b.Waiting, b.Working, b.InFlight)}
}

// refusalOf is the refusal of a ticket admission refused.
func refusalOf(tk *admission.Ticket, b admission.Bounds) *refusal {
	if tk.Reason == admission.ReasonTargetCap {
		return &refusal{http.StatusServiceUnavailable, RefusedTargetCap,
			fmt.Errorf("%d probes of this target are in flight already (--probe.max-per-target): a scrape interval shorter than the timeout, or a flood", b.PerTarget)}
	}
	return overloaded(b)
}

// textContentType is the Prometheus text exposition format, version 0.0.4.
const textContentType = "text/plain; version=0.0.4; charset=utf-8"

// probe reads the controller, sharing the request with concurrent probes of
// the same controller and module (see flights). Each waits at most its own
// timeout: one that gives up gets a timeout, whatever the others wait for.
// shared says the request served several probes; follower that this probe
// waited for another's request instead of making its own.
func (h *Handler) probe(ctx context.Context, req *request) (res collector.Result, shared, follower bool) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, req.timeout)
	defer cancel()
	key := req.moduleName + "\x00" + req.base.String()
	if req.modbus != nil {
		// A Modbus read is bounded by the timeout of the probe that starts
		// it (see read): only probes with the same timeout share it, so that
		// a short caller cannot cut a longer one's read short.
		key += "\x00" + req.timeout.String()
	}
	res, shared, follower, ok := h.flights.do(ctx, key, func(fctx context.Context) collector.Result {
		return read(fctx, req)
	})
	if !ok {
		res = collector.Result{Err: fmt.Errorf("%w: no answer within %s", collector.ErrTimeout, req.timeout)}
	}
	res.Duration = time.Since(start) // this caller's wait, shared or not
	return res, shared, follower
}

// refusal is why a /probe request gets no probe: HTTP status, the reason
// label of bender_cc_exporter_probe_requests_refused_total, and the message.
type refusal struct {
	code   int
	reason string
	err    error
}

// refuse answers a refused request, logs and counts it.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, ref *refusal) {
	h.logRefusal(r, ref.code, ref.reason, ref.err)
	if h.Metrics != nil {
		h.Metrics.refused.WithLabelValues(ref.reason).Inc()
	}
	http.Error(w, ref.err.Error(), ref.code)
}

func badRequest(err error) *refusal { return &refusal{http.StatusBadRequest, RefusedBadRequest, err} }

// resolve checks the request and finds its target, module, timeout and
// whether the policy allows it. It makes no connection; under a policy with
// networks it resolves a host name that is not allowed by name.
func (h *Handler) resolve(r *http.Request) (*request, *refusal) {
	cfg := h.Config.Get()
	q := r.URL.Query()
	req := &request{target: q.Get("target"), moduleName: q.Get("module")}
	if req.target == "" {
		return nil, badRequest(errors.New("target parameter is missing"))
	}
	address := req.target
	t, named := cfg.Target(req.target)
	if named {
		if !cfg.Policy.AllowsName(t.Name) {
			return nil, &refusal{http.StatusForbidden, RefusedNotAllowed, fmt.Errorf("target %q is %w", t.Name, config.ErrNotAllowed)}
		}
		address, req.labels = t.Address, t.Labels
		if req.moduleName == "" {
			req.moduleName = t.Module
		}
	}
	if req.moduleName == "" {
		req.moduleName = config.DefaultModule
	}
	req.module = cfg.Modules[req.moduleName]
	if req.module == nil {
		return nil, &refusal{http.StatusBadRequest, RefusedUnknownModule,
			fmt.Errorf("unknown module %q: the configured modules are %s", req.moduleName, strings.Join(cfg.ModuleNames(), ", "))}
	}
	req.client = cfg.Client(req.moduleName)
	var err error
	if err = parseTarget(cfg, req, address); err != nil {
		return nil, badRequest(err)
	}
	if req.timeout, err = timeout(r, time.Duration(req.module.Timeout), h.TimeoutOffset); err != nil {
		return nil, badRequest(err)
	}
	if !named && cfg.Policy != nil {
		// Bounded by the probe's timeout: the policy may look the host
		// name up. Without a policy nothing is checked, and a timer per
		// probe would only be armed and stopped again.
		ctx, cancel := context.WithTimeout(r.Context(), req.timeout)
		defer cancel()
		err := checkTarget(ctx, cfg, req)
		var dnsErr *net.DNSError
		switch {
		case errors.As(err, &dnsErr):
			// A name that does not resolve reaches nothing: a failed probe.
			req.failed = fmt.Errorf("cannot resolve host: %w", err)
		case err != nil:
			return nil, &refusal{http.StatusForbidden, RefusedNotAllowed, fmt.Errorf("target %q refused: %w", collector.RedactTarget(req.target), err)}
		}
	}
	if err := req.module.SecretError(); err != nil {
		// Without its password the module sends nothing: a failed probe.
		req.failed = err
	}
	return req, nil
}

// timeout is the module's timeout, cut to Prometheus' scrape timeout less
// the offset when Prometheus sends one.
func timeout(r *http.Request, module, offset time.Duration) (time.Duration, error) {
	v := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds")
	if v == "" {
		return module, nil
	}
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || secs <= 0 {
		return 0, fmt.Errorf("invalid X-Prometheus-Scrape-Timeout-Seconds %q", v)
	}
	scrape := time.Duration(secs*float64(time.Second)) - offset
	if scrape <= 0 {
		// An offset larger than the whole timeout: use what Prometheus allows.
		scrape = time.Duration(secs * float64(time.Second))
	}
	return min(module, scrape), nil
}

// maxLoggedLines bounds the debug lines one document can cause.
const maxLoggedLines = 20

func logResult(logger log.Logger, st *collector.FullState) {
	for _, f := range st.Unknown[:min(len(st.Unknown), maxLoggedLines)] {
		level.Debug(logger).Log("msg", "Unknown key", "key", f.Key, "line", f.Line)
	}
	for _, iv := range st.Invalid[:min(len(st.Invalid), maxLoggedLines)] {
		level.Debug(logger).Log("msg", "Value not parsed", "key", iv.Key, "line", iv.Line, "reason", iv.Reason)
	}
	if n := len(st.Unknown) + len(st.Invalid); n > 2*maxLoggedLines {
		level.Debug(logger).Log("msg", "More unknown keys and unparsed values not logged", "unknown_keys", len(st.Unknown), "parse_errors", len(st.Invalid))
	}
}
