package config

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	config_util "github.com/prometheus/common/config"
)

// Snapshot is one loaded configuration with an HTTP client per module. It
// is never changed after it is built, so a probe can use it without locks.
type Snapshot struct {
	*Config
	// Policy restricts what probes may reach; nil allows everything.
	Policy  *Policy
	clients map[string]*http.Client
	caps    map[string]*connCap
}

// ModuleNames returns the names of the configured modules, sorted.
func (s *Snapshot) ModuleNames() []string { return slices.Sorted(maps.Keys(s.Modules)) }

// Client returns the module's HTTP client; connections are reused across probes.
func (s *Snapshot) Client(module string) *http.Client { return s.clients[module] }

// Holder keeps the current Snapshot and replaces it on Reload. A config that
// fails to load leaves the current one in place.
type Holder struct {
	path      string
	userAgent string
	// MaxConnections caps the connections each module's client keeps open
	// (see connCap); 0 means no cap. Set it before the first Reload.
	MaxConnections int
	// OnLoad, if set, is called with each configuration that becomes current.
	OnLoad func(*Snapshot)

	mu  sync.RWMutex
	cur *Snapshot
	// reloading serializes reloads (SIGHUP and /-/reload at once): each
	// reads the file and installs what it read before the next starts, so
	// an older read is never installed after a newer one.
	reloading sync.Mutex
	afterLoad func() // tests: runs between reading the file and installing it

	reloadOK   prometheus.Gauge
	reloadTime prometheus.Gauge
}

// NewHolder returns a Holder for the file at path ("" for the built-in
// configuration) and registers its reload metrics with reg.
func NewHolder(path, userAgent string, reg prometheus.Registerer) *Holder {
	h := &Holder{
		path:           path,
		userAgent:      userAgent,
		MaxConnections: DefaultMaxConnections,
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bender_cc_exporter_config_last_reload_successful",
			Help: "1 if the last configuration load succeeded, else 0.",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bender_cc_exporter_config_last_reload_success_timestamp_seconds",
			Help: "Time of the last successful configuration load.",
		}),
	}
	if reg != nil {
		reg.MustRegister(h.reloadOK, h.reloadTime, h)
	}
	return h
}

// Reload loads the file again. On error the current configuration stays.
func (h *Holder) Reload() error {
	h.reloading.Lock()
	defer h.reloading.Unlock()
	snap, err := h.load()
	if h.afterLoad != nil {
		h.afterLoad()
	}
	if err != nil {
		h.reloadOK.Set(0)
		return err
	}
	h.mu.Lock()
	old := h.cur
	h.cur = snap
	h.mu.Unlock()
	h.reloadOK.Set(1)
	h.reloadTime.Set(float64(time.Now().UnixNano()) / 1e9)
	if h.OnLoad != nil {
		h.OnLoad(snap)
	}
	if old != nil {
		// Probes still using the old clients finish; their idle connections
		// go now, and what those probes leave idle once the longest of them
		// has timed out.
		old.closeIdle()
		time.AfterFunc(old.maxTimeout()+time.Second, old.closeIdle)
	}
	return nil
}

func (s *Snapshot) closeIdle() {
	for _, c := range s.clients {
		c.CloseIdleConnections()
	}
}

// maxTimeout bounds how long a probe with this configuration can take.
func (s *Snapshot) maxTimeout() time.Duration {
	var d time.Duration
	for _, m := range s.Modules {
		d = max(d, time.Duration(m.Timeout))
	}
	return d
}

// ReloadSuccessGauge is bender_cc_exporter_config_last_reload_successful.
func (h *Holder) ReloadSuccessGauge() prometheus.Gauge { return h.reloadOK }

// Get returns the current configuration.
func (h *Holder) Get() *Snapshot {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.cur
}

func (h *Holder) load() (*Snapshot, error) {
	c, err := Load(h.path)
	if err != nil {
		return nil, err
	}
	// A module whose secret cannot be read fails its own probes (see
	// Module.SecretError); the other modules work.
	_ = c.ReadSecrets()
	policy, err := c.compilePolicy()
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{Config: c, Policy: policy, clients: make(map[string]*http.Client, len(c.Modules)), caps: map[string]*connCap{}}
	for name, m := range c.Modules {
		var dial config_util.DialContextFunc
		if policy != nil {
			dial = policy.dialer(name)
		}
		cc := newConnCap(h.MaxConnections, time.Duration(m.Timeout), limitHeaders(dial))
		client, err := config_util.NewClientFromConfig(m.HTTPClientConfig, "bender_cc_"+name,
			config_util.WithUserAgent(h.userAgent),
			config_util.WithIdleConnTimeout(90*time.Second),
			config_util.WithDialContextFunc(cc.dial))
		if err != nil {
			return nil, fmt.Errorf("module %q: http_client_config: %w", name, err)
		}
		client.Transport = &staleGuard{next: cc.roundTripper(client.Transport), timeout: time.Duration(m.Timeout)}
		snap.caps[name] = cc
		policy.guard(client, name, ownAuth(&m.HTTPClientConfig))
		snap.clients[name] = client
	}
	return snap, nil
}

// ownAuth says whether prometheus/common adds credentials to every request
// of a client with this configuration, redirected ones included.
func ownAuth(c *config_util.HTTPClientConfig) bool {
	return c.BasicAuth != nil || c.Authorization != nil || c.OAuth2 != nil || c.BearerToken != "" || c.BearerTokenFile != "" ||
		c.HTTPHeaders != nil && len(c.HTTPHeaders.Headers) > 0
}

// connectionsDesc describes the open connections of each module.
var connectionsDesc = prometheus.NewDesc("bender_cc_exporter_controller_connections",
	"Connections open to controllers, per module (at --client.max-connections, they are closed after use).",
	[]string{"module"}, nil)

// Describe implements prometheus.Collector for the holder's per-module connection counts.
func (h *Holder) Describe(ch chan<- *prometheus.Desc) { ch <- connectionsDesc }

// Collect reports the open connections of the current configuration's modules.
func (h *Holder) Collect(ch chan<- prometheus.Metric) {
	snap := h.Get()
	if snap == nil {
		return
	}
	for name, c := range snap.caps {
		ch <- prometheus.MustNewConstMetric(connectionsDesc, prometheus.GaugeValue, float64(c.open.Load()), name)
	}
}
