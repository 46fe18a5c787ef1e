package probe

import (
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// A controller that stays down would log a warning on every scrape: 200
// dead chargers scraped every 15 s are 800 lines a minute. Instead a
// failure is logged when it starts, when its cause (result) changes, every
// failureReminder while it lasts, and when it ends; the probes in between
// are logged at debug level.
const (
	failureReminder = 15 * time.Minute
	// maxTrackedFailures bounds the memory of failing targets (callers
	// choose targets); past it failures are logged every time.
	maxTrackedFailures = 100_000
)

type failureState struct {
	result        string
	since, logged time.Time
	probes        int // failed probes since the failure started
}

// failureLog remembers which module/target pairs are failing, and why.
type failureLog struct {
	mu sync.Mutex
	m  map[string]*failureState
}

// logOutcome logs a probe's outcome as described above.
func (f *failureLog) logOutcome(logger log.Logger, module, target, result, how string, err error, took time.Duration) {
	now := time.Now()
	key := module + "\x00" + target
	f.mu.Lock()
	if f.m == nil {
		f.m = map[string]*failureState{}
	}
	st := f.m[key]
	var (
		msg    string
		lvl    = level.Warn
		probes int
		since  time.Time
	)
	switch {
	case err == nil && st == nil:
	case err == nil:
		delete(f.m, key)
		msg, lvl, probes, since = "Probe succeeds again", level.Info, st.probes, st.since
	case st == nil || st.result != result:
		msg = "Probe failed"
		if st != nil {
			msg = "Probe failed, for another cause"
		}
		if st != nil || len(f.m) < maxTrackedFailures {
			f.m[key] = &failureState{result: result, since: now, logged: now, probes: 1}
		}
		probes, since = 1, now
	default:
		st.probes++
		probes, since = st.probes, st.since
		if now.Sub(st.logged) >= failureReminder {
			msg, st.logged = "Probe still failing", now
		} else {
			msg, lvl = "Probe failed", level.Debug
		}
	}
	f.mu.Unlock()
	if msg == "" {
		return
	}
	kv := []any{"msg", msg, "target", target, "module", module}
	if err != nil {
		kv = append(kv, "result", result, "duration_seconds", took.Seconds())
		if how != "" && how != AdmissionProbed {
			kv = append(kv, "admission", how)
		}
	}
	if probes > 1 || err == nil {
		kv = append(kv, "failed_probes", probes, "failing_since", since.UTC().Format(time.RFC3339))
	}
	if err != nil {
		kv = append(kv, "err", err)
	}
	_ = lvl(logger).Log(kv...)
}
