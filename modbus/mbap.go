package modbus

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"time"

	"github.com/bender-cc/bender_cc_exporter/collector"
)

// conn is one probe's Modbus TCP connection: the connection the module's
// dialer returned (bounded by the probe's deadline, checked against
// probe.allowed_targets, counted), spoken to by a client that can build one
// request only, a read of holding registers (appendRead), and refuses one
// that would touch a personal register. Several requests may be in flight:
// each has its own transaction id, and replies are matched by it.
type conn struct {
	ctx      context.Context
	nc       net.Conn
	r        *bufio.Reader
	unit     uint8
	deadline time.Time // the probe's; zero when it has none
	stop     func() bool

	next      uint16        // the transaction id of the last request
	pending   []request     // sent and not answered, in the order sent
	abandoned []uint16      // given up on (a burst that stalled): a late reply is dropped
	late      bool          // a reply to an abandoned request came after all
	requests  int           // requests sent
	got       int           // bytes of the reply being read
	silence   time.Duration // while replies of a burst are awaited: how long none may come
	out       []byte        // the frames of the requests being sent
}

type request struct {
	tid uint16
	b   Block
}

// reply is the controller's answer to one read: the registers, or the
// exception it answered instead (*Exception).
type reply struct {
	b     Block
	words []uint16
	err   error
}

// fcReadHolding is the only function code this package sends.
const fcReadHolding = 0x03

// errStalled: the replies of a burst stopped coming before the probe's
// deadline (conn.silence).
var errStalled = errors.New("the pipelined replies stopped coming")

// aLongTimeAgo is a deadline in the past: set when the probe's context is
// cancelled, it ends a read that is waiting.
var aLongTimeAgo = time.Unix(1, 0)

func open(ctx context.Context, dial Dialer, addr string, unit uint8) (*conn, error) {
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, describeDial(ctx, err)
	}
	c := &conn{ctx: ctx, nc: nc, unit: unit}
	c.r = bufio.NewReaderSize(deadlineReader{c}, 512)
	if d, ok := ctx.Deadline(); ok {
		c.deadline = d
		_ = nc.SetDeadline(d)
	}
	c.stop = context.AfterFunc(ctx, func() { _ = nc.SetDeadline(aLongTimeAgo) })
	return c, nil
}

func (c *conn) close() {
	c.stop()
	_ = c.nc.Close()
}

// appendRead appends the frame of a read of b: MBAP header (transaction
// id, protocol 0, length 6, unit id), function code 03, address, quantity.
func appendRead(dst []byte, tid uint16, unit uint8, b Block) []byte {
	return append(dst, byte(tid>>8), byte(tid), 0, 0, 0, 6, unit,
		fcReadHolding, byte(b.Addr>>8), byte(b.Addr), byte(b.Count>>8), byte(b.Count))
}

// send sends reads of blocks in one write: a burst when there are several.
func (c *conn) send(blocks ...Block) error {
	for _, b := range blocks {
		if b.Count == 0 || b.Count > maxBlock || int(b.Addr)+int(b.Count) > 0x10000 || touchesPersonal(b.Addr, b.Count) {
			return fmt.Errorf("%w (registers %d+%d)", ErrRefused, b.Addr, b.Count)
		}
	}
	c.out = c.out[:0]
	for _, b := range blocks {
		c.next++
		c.out = appendRead(c.out, c.next, c.unit, b)
		c.pending = append(c.pending, request{c.next, b})
	}
	c.requests += len(blocks)
	if _, err := c.nc.Write(c.out); err != nil {
		return c.ioError(err)
	}
	return nil
}

// receive returns the next reply to a pending request, waiting until the
// probe's deadline; with silence set, errStalled once nothing has come for
// that long (between two replies: a reply that has begun is waited for).
func (c *conn) receive() (reply, error) {
	for {
		hdr, pdu, err := c.readFrame()
		if err != nil {
			return reply{}, err
		}
		tid := uint16(hdr[0])<<8 | uint16(hdr[1])
		i := slices.IndexFunc(c.pending, func(r request) bool { return r.tid == tid })
		if i < 0 {
			if slices.Contains(c.abandoned, tid) {
				c.late = true
				continue
			}
			return reply{}, fmt.Errorf("%w: unexpected transaction id 0x%04x (expected 0x%04x)", ErrWrongID, tid, c.pending[0].tid)
		}
		b := c.pending[i].b
		c.pending = slices.Delete(c.pending, i, i+1)
		if hdr[6] != c.unit {
			return reply{}, fmt.Errorf("%w: the reply came from another unit id; %s", ErrWrongID, "set the module's modbus.unit_id to the one the controller answers (255 by default, 1 for AMTRON 4You)")
		}
		return decodeReply(b, pdu)
	}
}

// decodeReply reads the PDU of a reply to a read of b.
func decodeReply(b Block, pdu []byte) (reply, error) {
	switch {
	case pdu[0] == fcReadHolding && len(pdu) == 2+2*int(b.Count) && int(pdu[1]) == 2*int(b.Count):
		w := make([]uint16, b.Count)
		for i := range w {
			w[i] = uint16(pdu[2+2*i])<<8 | uint16(pdu[3+2*i])
		}
		return reply{b: b, words: w}, nil
	case pdu[0] == fcReadHolding|0x80 && len(pdu) == 2:
		return reply{b: b, err: &Exception{Code: pdu[1]}}, nil
	case pdu[0] == fcReadHolding:
		return reply{}, fmt.Errorf("%w: a reply to the read of registers %d-%d with a length Modbus TCP does not allow (%d registers for %d)", ErrBadFrame, b.Addr, b.Addr+b.Count-1, (len(pdu)-2)/2, b.Count)
	}
	return reply{}, fmt.Errorf("%w: a reply with function code %d to the read of registers %d-%d", ErrBadFrame, pdu[0], b.Addr, b.Addr+b.Count-1)
}

// readFrame reads one MBAP frame: its header and its PDU.
func (c *conn) readFrame() (hdr [7]byte, pdu []byte, err error) {
	c.got = 0
	if err := c.fill(hdr[:]); err != nil {
		return hdr, nil, err
	}
	if hdr[2] != 0 || hdr[3] != 0 {
		return hdr, nil, fmt.Errorf("%w: the reply starts %q, whose protocol identifier is not 0%s", ErrNotModbus, printable(hdr[:]), httpHint(hdr[:]))
	}
	// The length counts the unit id and the PDU: 3 (an exception) to 254
	// (a PDU of 253 bytes, the most Modbus allows).
	length := int(hdr[4])<<8 | int(hdr[5])
	if length < 3 || length > 254 {
		b := c.current()
		return hdr, nil, fmt.Errorf("%w: a reply to the read of registers %d-%d with a length Modbus TCP does not allow (%d bytes announced)", ErrBadFrame, b.Addr, b.Addr+b.Count-1, length)
	}
	pdu = make([]byte, length-1)
	if err := c.fill(pdu); err != nil {
		return hdr, nil, err
	}
	return hdr, pdu, nil
}

// fill reads len(p) bytes of a frame. Once a frame has begun, silence no
// longer stalls it: it is waited for to the probe's deadline.
func (c *conn) fill(p []byte) error {
	for n := 0; n < len(p); {
		m, err := c.r.Read(p[n:])
		n += m
		c.got += m
		switch {
		case err == nil:
		case c.got > 0 && c.silent(err):
		default:
			return c.ioError(err)
		}
	}
	return nil
}

// silent says whether err is the silence deadline, not the probe's.
func (c *conn) silent(err error) bool {
	return c.silence > 0 && errors.Is(err, os.ErrDeadlineExceeded) && c.ctx.Err() == nil &&
		(c.deadline.IsZero() || time.Now().Before(c.deadline))
}

// deadlineReader is what the buffered reader of a conn reads: each read of
// the connection waits at most until the probe's deadline, and, while
// silence is set, at most silence.
type deadlineReader struct{ c *conn }

func (d deadlineReader) Read(p []byte) (int, error) {
	c := d.c
	until := c.deadline
	if c.silence > 0 {
		if s := time.Now().Add(c.silence); until.IsZero() || s.Before(until) {
			until = s
		}
	}
	_ = c.nc.SetReadDeadline(until)
	if c.ctx.Err() != nil { // cancelled while the deadline was being set
		_ = c.nc.SetReadDeadline(aLongTimeAgo)
	}
	return c.nc.Read(p)
}

// current is the read whose reply is awaited first.
func (c *conn) current() Block {
	if len(c.pending) > 0 {
		return c.pending[0].b
	}
	return version
}

// ioError explains a failed read or write of the connection.
func (c *conn) ioError(err error) error {
	b := c.current()
	switch {
	case c.got == 0 && c.silent(err):
		return errStalled
	case c.ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: no Modbus reply to the read of registers %d-%d (%d bytes received; is the controller's Modbus TCP Server on, and this its Modbus port?): %w", collector.ErrTimeout, b.Addr, b.Addr+b.Count-1, c.got, err)
	case c.got > 0:
		return fmt.Errorf("%w: the reply to the read of registers %d-%d was cut off after %d bytes: %w", ErrBadFrame, b.Addr, b.Addr+b.Count-1, c.got, err)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("the controller closed the connection without a reply: %w", io.EOF)
	}
	return fmt.Errorf("the read of registers %d-%d: %w", b.Addr, b.Addr+b.Count-1, err)
}

// abandon gives up on the pending requests: their replies, should they
// come late, are dropped.
func (c *conn) abandon() []Block {
	var blocks []Block
	for _, r := range c.pending {
		c.abandoned = append(c.abandoned, r.tid)
		blocks = append(blocks, r.b)
	}
	c.pending = c.pending[:0]
	return blocks
}
