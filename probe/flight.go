package probe

import (
	"context"
	"sync"

	"github.com/bender-cc/bender_cc_exporter/collector"
)

// flights lets concurrent probes of one controller with one module (an HA
// pair of Prometheus servers, dashboards, retries) share one request while
// each waits no longer than its own deadline. The request is detached from
// every caller and runs while at least one of them waits: in effect until
// the latest of their deadlines. When the last one gives up it is cancelled,
// so that no request outlives its callers (and --probe.max-in-flight bounds
// requests, too). The zero value is ready to use.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

// flight is one shared request.
type flight struct {
	done    chan struct{} // closed once res is set
	res     collector.Result
	cancel  context.CancelFunc
	waiting int // callers waiting now
	callers int // callers so far
}

// do returns the result of fetch for key, joining the request for key that
// is running, if any, or else starting one; it waits until ctx ends at most.
// ok is false when ctx ended first. shared says the request served several
// probes; follower that this caller joined another's request instead of
// starting its own.
func (g *flights) do(ctx context.Context, key string, fetch func(context.Context) collector.Result) (res collector.Result, shared, follower bool, ok bool) {
	g.mu.Lock()
	f := g.m[key]
	follower = f != nil
	if f == nil {
		fctx, cancel := context.WithCancel(context.Background())
		f = &flight{done: make(chan struct{}), cancel: cancel}
		if g.m == nil {
			g.m = map[string]*flight{}
		}
		g.m[key] = f
		go func() {
			r := fetch(fctx)
			g.mu.Lock()
			g.forget(key, f)
			f.res = r
			g.mu.Unlock()
			close(f.done)
		}()
	}
	f.waiting++
	f.callers++
	g.mu.Unlock()

	select {
	case <-f.done:
		res, ok = f.res, true
	case <-ctx.Done():
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if f.waiting--; f.waiting == 0 {
		g.forget(key, f) // a probe that comes now starts afresh
		f.cancel()
	}
	return res, f.callers > 1, follower, ok
}

// forget removes f from the running requests; g.mu is held.
func (g *flights) forget(key string, f *flight) {
	if g.m[key] == f {
		delete(g.m, key)
	}
}
