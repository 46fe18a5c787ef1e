// Command bender_cc_exporter exports the state of Bender/ebee charge
// controllers (CC612, CC613 and the wallboxes built on them), read through
// their Legacy REST API, as Prometheus metrics.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"
	sloggokit "github.com/tjhop/slog-gokit"

	"github.com/bender-cc/bender_cc_exporter/admission"
	"github.com/bender-cc/bender_cc_exporter/config"
	"github.com/bender-cc/bender_cc_exporter/probe"
)

const exporterName = "bender_cc_exporter"

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	app := kingpin.New(exporterName, "Prometheus exporter for Bender/ebee charge controllers (Legacy REST API).")
	var (
		configFile    = app.Flag("config.file", "Configuration file; without one only the default module exists.").Default("").String()
		configCheck   = app.Flag("config.check", "Validate the configuration file, read every module's password_file and password_env, and exit (non-zero when anything fails).").Bool()
		checkSecrets  = app.Flag("config.check-secrets", "With --config.check: also read the modules' secrets. --no-config.check-secrets checks the file's structure only, for a machine without the secrets (CI, a build host).").Default("true").Bool()
		timeoutOffset = app.Flag("timeout-offset", "Subtracted from Prometheus' scrape timeout to leave time for the answer.").Default("0.5s").Duration()
		maxInFlight   = app.Flag("probe.max-in-flight", "Probes in flight at once, waiting and working; past it (and past the bounds below) a probe gets HTTP 503 at once unless a probe that waits longer than its controller needs can be given up for it, so that an overload cannot exhaust memory or file descriptors (-1: --probe.max-waiting + --probe.max-working; 0: no limit).").Default("-1").Int()
		maxWaiting    = app.Flag("probe.max-waiting", "Probes connecting or waiting for a controller's first byte (-1: sized from the memory limit, the lower of GOMEMLIMIT and 90% of the memory cgroup's: half of it for probes, three quarters of that at 80 KiB per waiting probe; 3584 at most and when no limit is known; 0: no limit).").Default("-1").Int()
		maxWorking    = app.Flag("probe.max-working", "Probes reading a controller's answer, parsing it and answering (-1: a quarter of the probes' half of the memory limit at 128 KiB each, 512 at most and when no limit is known; 0: no limit).").Default("-1").Int()
		maxPerTarget  = app.Flag("probe.max-per-target", "Probes of one target (module and address) in flight at once; past it a target whose last probe failed is answered at once with bender_cc_up 0, another gets HTTP 503 (0: no limit).").Default(strconv.Itoa(admission.DefaultPerTarget)).Int()
		maxTargets    = app.Flag("probe.max-targets", "Targets whose state (last outcome, usual answer time, circuit) the exporter keeps; past it the least recently probed is forgotten (-1: 5% of the memory limit at 512 bytes each, 10,000 to 1,000,000; 100,000 when no limit is known).").Default("-1").Int()
		maxConns      = app.Flag("client.max-connections", "Connections each module keeps open to controllers for reuse; past it idle ones are closed (0: no limit).").Default(strconv.Itoa(config.DefaultMaxConnections)).Int()
		logLevel      = app.Flag("log.level", "Only log messages with the given severity or above. One of: [debug, info, warn, error]").Default("info").Enum("debug", "info", "warn", "error")
		maxHTTPConns  = app.Flag("web.max-connections", "Connections the exporter's HTTP server holds at once, on all listeners; past it a new connection closes the one idle longest after a /probe, else one whose request has not been read (a client that has sent nothing first), else one idle after another request, else it is reset at once: nothing queues, so idle or slow clients and floods of probes cannot keep scrapes of /metrics, /-/healthy and /probe out (-1: --probe.max-in-flight + 256; 0: no limit).").Default("-1").Int()
		idleTimeout   = app.Flag("web.idle-timeout", "How long a client's keep-alive connection to the exporter may stay idle before the exporter closes it, so that idle connections cannot pile up until the exporter runs out of file descriptors (0: no limit).").Default("1m").Duration()
		headerTimeout = app.Flag("web.read-header-timeout", "How long a client may take to send a request's header (0: no limit).").Default("10s").Duration()
		logFormat     = app.Flag("log.format", "Output format of log messages. One of: [logfmt, json]").Default("logfmt").Enum("logfmt", "json")
		webFlags      = kingpinflag.AddFlags(app, ":9955")
	)
	app.Version(version.Print(exporterName))
	app.HelpFlag.Short('h')
	if _, err := app.Parse(args); err != nil {
		_, _ = fmt.Fprintln(stderr, err)
		return 2
	}

	logger, slogger := newLogger(stderr, *logLevel, *logFormat)

	if *configCheck {
		c, err := config.Load(*configFile)
		if err != nil {
			level.Error(logger).Log("msg", "Configuration is invalid", "file", *configFile, "err", err)
			return 1
		}
		if !*checkSecrets {
			level.Info(logger).Log("msg", "Configuration is valid; secrets not read (--no-config.check-secrets)", "file", *configFile)
			return 0
		}
		if err := c.ReadSecrets(); err != nil {
			level.Error(logger).Log("msg", "Configuration is valid, but secrets cannot be read: the exporter would fail every probe of these modules. Run the check as the exporter's user, or use --no-config.check-secrets to check the structure only", "file", *configFile, "err", err)
			return 1
		}
		level.Info(logger).Log("msg", "Configuration is valid", "file", *configFile)
		return 0
	}

	level.Info(logger).Log("msg", "Starting "+exporterName, "version", version.Info())
	level.Info(logger).Log("build_context", version.BuildContext())
	governProcs(logger)

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		versioncollector.NewCollector(exporterName),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	holder := config.NewHolder(*configFile, exporterName+"/"+version.Version, reg)
	holder.MaxConnections = *maxConns
	probes := probe.NewMetrics(reg)
	holder.OnLoad = func(s *config.Snapshot) { probes.InitModules(s.ModuleNames()) }
	if err := holder.Reload(); err != nil {
		level.Error(logger).Log("msg", "Error loading config", "file", *configFile, "err", err)
		return 1
	}
	logLoaded(logger, holder, *configFile, "Loaded config file")

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			_ = reloadConfig(holder, logger, *configFile)
		}
	}()

	budget, source := admission.MemoryBudget()
	bounds := admission.BoundsFor(budget).Override(*maxWaiting, *maxWorking, *maxInFlight, *maxPerTarget, *maxTargets)
	conns := *maxHTTPConns
	if conns < 0 {
		conns = 0 // no bound
		if bounds.InFlight > 0 {
			conns = bounds.InFlight + httpConnsBesideProbes
		}
	}
	kv := []any{"probe_max_waiting", bounds.Waiting, "probe_max_working", bounds.Working, "probe_max_in_flight", bounds.InFlight,
		"probe_max_per_target", bounds.PerTarget, "probe_max_targets", bounds.Targets, "web_max_connections", conns}
	if budget > 0 {
		level.Info(logger).Log(append([]any{"msg", "Memory limit known: Go memory limit and bounds sized from it unless given", "memory_limit_bytes", budget, "from", source}, kv...)...)
	} else {
		level.Info(logger).Log(append([]any{"msg", "No memory limit known (GOMEMLIMIT, memory cgroup): default bounds unless given"}, kv...)...)
	}

	ph := &probe.Handler{Config: holder, Logger: logger, TimeoutOffset: *timeoutOffset, Metrics: probes, Admission: admission.New(bounds, reg)}
	mux, err := routes(holder, reg, ph, logger, *configFile)
	if err != nil {
		level.Error(logger).Log("err", err)
		return 1
	}
	lim := admission.NewConnLimit(conns, reg)
	srv := newServer(lim.Track(mux), *idleTimeout, *headerTimeout)
	srv.ConnState, srv.ConnContext = lim.ConnState, lim.ConnContext
	if err := web.ListenAndServe(srv, webFlags, slogger); err != nil {
		level.Error(logger).Log("msg", "HTTP server stopped", "err", err)
		return 1
	}
	return 0
}

// httpConnsBesideProbes is what the default --web.max-connections leaves
// beside the probes in flight (--probe.max-in-flight): /metrics, health checks, dashboards, and
// the connections of probes answered 503 that are on their way out.
const httpConnsBesideProbes = 256

// maxRequestHeaderBytes bounds the header of a request to the exporter;
// Prometheus sends a few hundred bytes, a browser some cookies.
const maxRequestHeaderBytes = 32 << 10

// newServer returns the exporter's HTTP server. Without an idle timeout
// every keep-alive connection a client leaves open holds a file descriptor
// for good: 20,100 of them, each after one GET /-/healthy, once took the
// exporter to its limit and stopped every endpoint.
func newServer(h http.Handler, idle, readHeader time.Duration) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: readHeader, IdleTimeout: idle, MaxHeaderBytes: maxRequestHeaderBytes}
}

// reloadConfig reloads and logs the outcome; a failure keeps the old config.
func reloadConfig(holder *config.Holder, logger log.Logger, file string) error {
	if err := holder.Reload(); err != nil {
		level.Error(logger).Log("msg", "Error reloading config, keeping the old one", "file", file, "err", err)
		return err
	}
	logLoaded(logger, holder, file, "Reloaded config file")
	return nil
}

// logLoaded says which configuration is in force, and warns while /probe
// may reach any address: the exporter is then a relay into every network
// its host reaches.
func logLoaded(logger log.Logger, holder *config.Holder, file, msg string) {
	if file == "" {
		level.Info(logger).Log("msg", "No config file given (--config.file): only the default module exists, without credentials")
	} else {
		level.Info(logger).Log("msg", msg, "file", file)
	}
	for _, name := range holder.Get().ModuleNames() {
		if err := holder.Get().Modules[name].SecretError(); err != nil {
			level.Warn(logger).Log("msg", "Module cannot be used: every probe with it fails until its secret is readable and the config is reloaded (SIGHUP, or POST /-/reload)", "module", name, "err", err)
		}
	}
	if holder.Get().Policy == nil {
		level.Warn(logger).Log("msg", "probe.allowed_targets is not set: /probe fetches from any address this host can reach; list your controllers in the config file (see docs/security.md)")
	}
}

// routes returns every endpoint of the exporter.
func routes(holder *config.Holder, reg *prometheus.Registry, ph *probe.Handler, logger log.Logger, configFile string) (*http.ServeMux, error) {
	mux := http.NewServeMux()
	mux.Handle("/probe", ph)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.Handle("/sd", probe.SDHandler(holder))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprintln(w, "Healthy") })
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprintln(w, "Ready") })
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "This endpoint requires a POST or PUT request.", http.StatusMethodNotAllowed)
			return
		}
		if err := reloadConfig(holder, logger, configFile); err != nil {
			http.Error(w, fmt.Sprintf("failed to reload config: %s", err), http.StatusInternalServerError)
		}
	})
	// Two landing pages, chosen per request: the one for an open /probe
	// warns, and a reload can open or close it.
	restricted, err := landingPage("")
	if err != nil {
		return nil, err
	}
	open, err := landingPage(`<p class="warning"><strong>Warning:</strong> <code>probe.allowed_targets</code> is not set:
/probe fetches from any address this host can reach, and sends a module's password there.
List your controllers in the config file (<a href="` + docsURL + `#restrict-probe">how</a>).</p>`)
	if err != nil {
		return nil, err
	}
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if holder.Get().Policy == nil {
			open.ServeHTTP(w, r)
		} else {
			restricted.ServeHTTP(w, r)
		}
	}))
	return mux, nil
}

// docsURL is where the documentation is.
const docsURL = "https://github.com/bender-cc/bender_cc_exporter/blob/main/README.md"

// landingPage is the page at /: a probe form, links, and extra HTML.
func landingPage(extra string) (*web.LandingPageHandler, error) {
	return web.NewLandingPage(web.LandingConfig{
		Name:        "Bender CC Exporter",
		Description: "Prometheus exporter for Bender/ebee charge controllers (Legacy REST API)",
		Version:     version.Info(),
		Profiling:   "true",
		Form: web.LandingForm{
			Action: "/probe",
			Inputs: []web.LandingFormInput{
				{Label: "Target", Type: "text", Name: "target", Placeholder: "a configured name, or an address: 192.0.2.10, 192.0.2.10:8080/base, https://cc.example.net"},
				{Label: "Module", Type: "text", Name: "module", Value: config.DefaultModule},
				{Label: "Debug view (request, answer, every line explained)", Type: "checkbox", Name: "debug", Value: "true"},
			},
		},
		Links: []web.LandingLinks{
			{Address: "/metrics", Text: "Exporter metrics"},
			{Address: "/sd", Text: "Configured targets (Prometheus HTTP service discovery)"},
			{Address: "/-/healthy", Text: "Health"},
		},
		ExtraCSS:  `input[type="text"] { width: 36em; max-width: 90%; } .warning { color: #a00; }`,
		ExtraHTML: `<p><a href="` + docsURL + `">Documentation</a> (configuration, metrics, alerts, troubleshooting)</p>` + extra,
	})
}

// newLogger builds the go-kit logger and, from it, the *slog.Logger that
// exporter-toolkit wants; both filter at the same level.
func newLogger(w io.Writer, lvl, format string) (log.Logger, *slog.Logger) {
	var logger log.Logger
	if format == "json" {
		logger = log.NewJSONLogger(log.NewSyncWriter(w))
	} else {
		logger = log.NewLogfmtLogger(log.NewSyncWriter(w))
	}
	logger = level.NewFilter(log.With(logger, "ts", log.DefaultTimestampUTC), level.Allow(level.ParseDefault(lvl, level.InfoValue())))
	slvl := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[lvl]
	// slog records carry their own source; only go-kit calls get a caller here.
	bridge := slog.New(untimed{sloggokit.NewGoKitHandler(logger, slvl)})
	logger = log.With(logger, "caller", log.DefaultCaller)
	return logger, bridge
}

// untimed drops the time of slog records: the go-kit logger they are
// written to stamps ts= on every line already.
type untimed struct{ slog.Handler }

func (h untimed) Handle(ctx context.Context, r slog.Record) error {
	r.Time = time.Time{}
	return h.Handler.Handle(ctx, r)
}

func (h untimed) WithAttrs(attrs []slog.Attr) slog.Handler {
	return untimed{h.Handler.WithAttrs(attrs)}
}
func (h untimed) WithGroup(name string) slog.Handler { return untimed{h.Handler.WithGroup(name)} }
