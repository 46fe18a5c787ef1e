package probe

import (
	"net/http"
	"sync"
	"time"

	"github.com/go-kit/log/level"

	"github.com/bender-cc/bender_cc_exporter/collector"
)

// Refused requests are logged at the default level, at most
// refusalLogBurst lines per refusalLogInterval: enough to see what a
// misconfigured Prometheus asks for, and no flood when something hammers
// /probe. The lines left out are counted in the next one.
const (
	refusalLogBurst    = 10
	refusalLogInterval = time.Minute
)

// logLimiter lets burst lines through per interval and counts the rest.
// The zero value uses the defaults above.
type logLimiter struct {
	mu      sync.Mutex
	start   time.Time
	n       int
	dropped int
}

// allow says whether a line may be logged now, and how many were left out
// since the last one that was.
func (l *logLimiter) allow(now time.Time) (ok bool, dropped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= refusalLogInterval {
		l.start, l.n = now, 0
	}
	if l.n >= refusalLogBurst {
		l.dropped++
		return false, 0
	}
	l.n++
	dropped, l.dropped = l.dropped, 0
	return true, dropped
}

// logRefusal logs a refused /probe request: who asked, for what, why.
func (h *Handler) logRefusal(r *http.Request, code int, reason string, err error) {
	ok, dropped := h.refusals.allow(time.Now())
	if !ok {
		return
	}
	kv := []any{"msg", "Probe request refused", "code", code, "reason", reason,
		"target", collector.RedactTarget(r.URL.Query().Get("target")), "module", r.URL.Query().Get("module"),
		"remote_addr", r.RemoteAddr, "err", err}
	if dropped > 0 {
		kv = append(kv, "refusals_not_logged", dropped)
	}
	level.Warn(h.Logger).Log(kv...)
}
