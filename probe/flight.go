package probe

import (
	"context"
	"sync"

	"github.com/bender-cc/bender_cc_exporter/collector"
)

// flights lets concurrent probes of one controller with one module (an HA
// pair of Prometheus servers, dashboards, retries) share one request while
// each waits no longer than its own deadline. The probe that finds no
// request running makes it in its own goroutine, bounded by its own
// deadline: a probe that waits for a controller which does not answer
// holds no goroutine beyond its own (most probes have no company). One
// that joins waits for that request at most until its own deadline; when
// the request ended because its maker's deadline did, and the joiner has
// time left, the joiner asks again on its own time (so a short caller
// cannot cut a longer one's probe short). The zero value is ready to use.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

// flight is one shared request.
type flight struct {
	done    chan struct{} // closed once res is set
	res     collector.Result
	cut     bool // the request ended because its maker's context did
	joiners int  // callers that joined it
}

// do returns the result of fetch for key, joining the request for key that
// is running, if any, or else making one; it waits until ctx ends at most.
// ok is false when ctx ended first. shared says the request served several
// probes; follower that this caller joined another's request.
func (g *flights) do(ctx context.Context, key string, fetch func(context.Context) collector.Result) (res collector.Result, shared, follower bool, ok bool) {
	for {
		g.mu.Lock()
		f := g.m[key]
		if f == nil {
			f = &flight{done: make(chan struct{})}
			if g.m == nil {
				g.m = map[string]*flight{}
			}
			g.m[key] = f
			g.mu.Unlock()
			res = fetch(ctx)
			g.mu.Lock()
			if g.m[key] == f {
				delete(g.m, key)
			}
			f.res, f.cut = res, ctx.Err() != nil
			joiners := f.joiners
			g.mu.Unlock()
			close(f.done)
			return res, follower || joiners > 0, follower, !f.cut
		}
		f.joiners++
		g.mu.Unlock()
		follower = true
		select {
		case <-f.done:
			if f.cut && ctx.Err() == nil {
				continue // its maker gave up first: ask again
			}
			return f.res, true, true, true
		case <-ctx.Done():
			return res, true, true, false
		}
	}
}
