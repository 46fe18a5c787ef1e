package modbus

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"strconv"
	"time"

	"github.com/bender-cc/bender_cc_exporter/collector"
)

// Dialer connects to a controller; the probe handler passes the module's,
// which reaches only what probe.allowed_targets allows.
type Dialer func(ctx context.Context, network, addr string) (net.Conn, error)

// Client reads controllers over Modbus TCP and remembers, per target, what
// a controller's server cannot do.
type Client struct {
	Memory *Memory
}

// DefaultClient is the client of Probe and Read.
var DefaultClient = &Client{Memory: NewMemory(DefaultMemoryEntries, DefaultMemoryTTL, nil)}

// Probe reads one controller with DefaultClient (see Client.Probe).
func Probe(ctx context.Context, dial Dialer, addr string, unit uint8) collector.Result {
	return DefaultClient.Probe(ctx, dial, addr, unit)
}

// Read reads one controller with DefaultClient (see Client.Read).
func Read(ctx context.Context, dial Dialer, addr string, unit uint8) (*collector.FullState, error) {
	return DefaultClient.Read(ctx, dial, addr, unit)
}

// Probe reads one controller's registers over one TCP connection, closed
// before it returns, within the deadline of ctx (the dial included), with no
// retry. addr is host:port; unit the Modbus unit id.
func (cl *Client) Probe(ctx context.Context, dial Dialer, addr string, unit uint8) collector.Result {
	start := time.Now()
	st, err := cl.Read(ctx, dial, addr, unit)
	return collector.Result{State: st, Err: err, Duration: time.Since(start),
		Sources: []collector.SourceStatus{{Name: "modbus", Err: err}}}
}

// silenceMargin is what a burst's replies may pause beyond the version
// read's round trip before the controller is taken for one that dropped
// them: room for the jitter of a mobile link and a busy exporter's
// scheduling (see silence).
const silenceMargin = 500 * time.Millisecond

// silence is how long a burst's replies may pause: four round trips of the
// version read, at least one and silenceMargin, and at most a third of the
// time the probe has left (so that one that dropped them can still be read
// one request at a time). Too short costs only time: the replies that come
// late are dropped, the reads asked again one at a time, and nothing is
// learned from it.
func silence(ctx context.Context, rtt time.Duration) time.Duration {
	s := max(4*rtt, rtt+silenceMargin)
	if d, ok := ctx.Deadline(); ok {
		s = min(s, time.Until(d)/3)
	}
	return s
}

// Read reads and decodes one controller's registers: the firmware version
// first and alone (it tells the register set), then every other read of
// the set's coalesced plan in one burst, the DLM and vehicle reads included
// (what does not apply, by registers 600 and 122, is dropped). A controller
// that drops pipelined requests is read one request at a time from then on
// (after a pause of the replies); a coalesced read answered with an
// exception is read by its parts. Both within this probe, and remembered
// for the next ones.
func (cl *Client) Read(ctx context.Context, dial Dialer, addr string, unit uint8) (*collector.FullState, error) {
	c, err := open(ctx, dial, addr, unit)
	if err != nil {
		return nil, err
	}
	defer c.close()
	start := time.Now()
	w, err := c.readOne(version)
	if err != nil {
		return nil, err
	}
	rtt := time.Since(start)
	set := setOf(w)
	if set == 0 {
		// A version string the exporter cannot read: ask the register set
		// itself, as integrators do (the model block exists from 5.22 on).
		_, err := c.readOne(Block{Addr: 142, Count: 1})
		var ex *Exception
		switch {
		case err == nil:
			set = Set522
		case errors.As(err, &ex) && ex.Code == illegalDataAddress:
			set = Set512
		default:
			return nil, err
		}
	}
	target, fw := addr+"/"+strconv.Itoa(int(unit)), [2]uint16{w[0], w[1]}
	known := cl.Memory.get(target, fw)
	s := &session{c: c, set: set, pipelined: !known.oneAtATime, split: known.split, silence: silence(ctx, rtt)}
	s.im.Add(version.Addr, w)
	if err := s.run(); err != nil {
		return nil, err
	}
	found := learned{version: fw, split: s.split, oneAtATime: known.oneAtATime || s.stalled && !c.late}
	cl.Memory.set(target, found)
	st := Decode(set, &s.im)
	st.Values = append(st.Values, readStats(c.requests, !found.oneAtATime, bits.OnesCount32(found.split))...)
	return st, nil
}

// readOne reads one block alone: its registers, or the error that explains
// why not (an exception too).
func (c *conn) readOne(b Block) ([]uint16, error) {
	if err := c.send(b); err != nil {
		return nil, err
	}
	r, err := c.receive()
	if err != nil {
		return nil, err
	}
	if r.err != nil {
		return nil, explainException(b, r.err)
	}
	return r.words, nil
}

// setOf tells the register set from the firmware version ("5.22"); 0 when
// the version cannot be read.
func setOf(w []uint16) Set {
	v, err := ascii(w)
	if err != nil {
		return 0
	}
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
		return 0
	}
	if major > 5 || major == 5 && minor >= 22 {
		return Set522
	}
	return Set512
}

// The rows of what a probe learned about the controller's server.
var (
	specRequests, _   = collector.Lookup("modbus_requests")
	specPipelined, _  = collector.Lookup("modbus_pipelined")
	specSplitReads, _ = collector.Lookup("modbus_split_reads")
)

func readStats(requests int, pipelined bool, split int) []collector.Value {
	p := 0
	if pipelined {
		p = 1
	}
	var out []collector.Value
	for _, s := range []struct {
		spec *collector.KeySpec
		x    int
	}{{specRequests, requests}, {specPipelined, p}, {specSplitReads, split}} {
		raw := strconv.Itoa(s.x)
		out = append(out, collector.Value{Spec: s.spec, Field: collector.Field{Key: s.spec.Key, Value: raw},
			Numbers: []collector.Reading{{Value: float64(s.x)}}})
	}
	return out
}
