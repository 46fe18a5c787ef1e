package probe

import (
	"context"
	"sync"
	"time"

	"github.com/go-kit/log"

	"github.com/bender-cc/bender_cc_exporter/collector"
	"github.com/bender-cc/bender_cc_exporter/config"
	"github.com/bender-cc/bender_cc_exporter/modbus"
)

// read reads the controller from the module's sources: full_state, the
// Modbus registers, or both at once (merged by modbus.Merge).
//
// A module that reads Modbus bounds its sources by the timeout of the probe
// that started the request, a little less: so that a source that hangs
// fails with its own cause ("no Modbus reply …") and, with both sources, the
// other source's series still arrive before that probe gives up, instead of
// the whole probe ending as "no answer". A REST-only request runs while any
// caller waits (see flights).
func read(ctx context.Context, req *request) collector.Result {
	m := req.module
	ctx = config.WithProbeTimeout(ctx, req.timeout)
	if req.modbus == nil {
		return collector.Probe(ctx, req.client, req.base, m.Credentials())
	}
	ctx, cancel := context.WithTimeout(ctx, req.timeout-sourceMargin(req.timeout))
	defer cancel()
	unit := uint8(m.Modbus.UnitID)
	if !m.Source.Has(config.SourceREST) {
		return modbus.Probe(ctx, req.dial, req.modbus.Host, unit)
	}
	var rest collector.Result
	var wg sync.WaitGroup
	wg.Go(func() { rest = collector.Probe(ctx, req.client, req.base, m.Credentials()) })
	mb := modbus.Probe(ctx, req.dial, req.modbus.Host, unit)
	wg.Wait()
	return modbus.Merge(rest, mb)
}

// parseTarget finds the URLs a probe of the module reads and the Modbus
// dialer of the module.
func parseTarget(cfg *config.Snapshot, req *request, address string) error {
	var err error
	req.base, req.modbus, err = req.module.ParseTarget(address)
	if err != nil {
		return err
	}
	if req.base == nil {
		req.base = req.modbus // the singleflight key and the policy's check
	}
	if req.modbus != nil {
		req.dial = cfg.ModbusDialer(req.moduleName)
	}
	return nil
}

// checkTarget asks the policy about every address the probe will reach.
func checkTarget(ctx context.Context, cfg *config.Snapshot, req *request) error {
	err := cfg.Policy.CheckURL(ctx, req.base, req.moduleName)
	if err == nil && req.modbus != nil && req.modbus != req.base {
		err = cfg.Policy.CheckURL(ctx, req.modbus, req.moduleName)
	}
	return err
}

// sourceFailures logs a source of a [rest, modbus] probe that fails while
// the other is read (the probe is up; bender_cc_source_up shows it too), as
// failureLog logs whole probes: when it starts, changes cause, every 15
// minutes, and when it ends, each line with a source field.
type sourceFailures struct {
	rest, modbus failureLog
}

func (f *sourceFailures) log(logger log.Logger, req *request, res collector.Result) {
	if res.Err != nil || len(res.Sources) < 2 {
		return // the whole probe failed, or there is one source: failureLog says it
	}
	for _, s := range res.Sources {
		fl := &f.rest
		if s.Name == config.SourceModbus {
			fl = &f.modbus
		}
		fl.logOutcome(log.With(logger, "source", s.Name), req.moduleName, req.target, Classify(s.Err), "", s.Err, res.Duration)
	}
}

// sourceMargin is how much earlier than the probe's timeout the sources of
// a Modbus module end: 5 %, at most 100 ms.
func sourceMargin(timeout time.Duration) time.Duration {
	return min(timeout/20, 100*time.Millisecond)
}
