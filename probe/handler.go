// Package probe serves /probe: one scrape of one charge controller.
package probe

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bender-cc/bender_cc_exporter/collector"
	"github.com/bender-cc/bender_cc_exporter/config"
)

// Handler serves /probe?target=<address or configured name>&module=<name>.
type Handler struct {
	Config *config.Holder
	Logger log.Logger
	// TimeoutOffset is kept free of Prometheus' scrape timeout so that the
	// answer arrives before Prometheus gives up.
	TimeoutOffset time.Duration
}

// request is a resolved /probe request.
type request struct {
	target, moduleName string
	module             *config.Module
	client             *http.Client
	labels             prometheus.Labels
	timeout            time.Duration
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, code, err := h.resolve(r)
	if err != nil {
		level.Debug(h.Logger).Log("msg", "Bad probe request", "err", err)
		http.Error(w, err.Error(), code)
		return
	}
	logger := log.With(h.Logger, "target", req.target, "module", req.moduleName)

	base, _ := collector.ParseTarget(req.target) // checked in resolve
	ctx, cancel := context.WithTimeout(r.Context(), req.timeout)
	defer cancel()
	res := collector.Probe(ctx, req.client, base, req.module.Credentials())
	if res.Err != nil {
		level.Warn(logger).Log("msg", "Probe failed", "duration_seconds", res.Duration.Seconds(), "err", res.Err)
	} else {
		logResult(logger, res.State)
	}

	reg := prometheus.NewRegistry()
	prometheus.WrapRegistererWith(req.labels, reg).MustRegister(collector.New(res))
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// resolve checks the request and finds its target, module and timeout.
func (h *Handler) resolve(r *http.Request) (*request, int, error) {
	cfg := h.Config.Get()
	q := r.URL.Query()
	req := &request{target: q.Get("target"), moduleName: q.Get("module")}
	if req.target == "" {
		return nil, http.StatusBadRequest, fmt.Errorf("target parameter is missing")
	}
	if t, ok := cfg.Target(req.target); ok {
		req.target = t.Address
		req.labels = t.Labels
		if req.moduleName == "" {
			req.moduleName = t.Module
		}
	}
	if req.moduleName == "" {
		req.moduleName = config.DefaultModule
	}
	req.module = cfg.Modules[req.moduleName]
	if req.module == nil {
		return nil, http.StatusBadRequest, fmt.Errorf("unknown module %q", req.moduleName)
	}
	req.client = cfg.Client(req.moduleName)
	if _, err := collector.ParseTarget(req.target); err != nil {
		return nil, http.StatusBadRequest, err
	}
	var err error
	req.timeout, err = timeout(r, time.Duration(req.module.Timeout), h.TimeoutOffset)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	return req, 0, nil
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

func logResult(logger log.Logger, st *collector.FullState) {
	for _, f := range st.Unknown {
		level.Debug(logger).Log("msg", "Unknown key", "key", f.Key, "line", f.Line)
	}
	for _, iv := range st.Invalid {
		level.Debug(logger).Log("msg", "Value not parsed", "key", iv.Key, "line", iv.Line, "reason", iv.Reason)
	}
}
