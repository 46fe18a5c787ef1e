package modbus

import (
	"context"
	"errors"
	"fmt"

	"github.com/bender-cc/bender_cc_exporter/collector"
)

// Errors of a Modbus probe that tell the cause apart (see probe.Classify).
var (
	// ErrException: the controller answered a read with a Modbus exception.
	ErrException = errors.New("exception reply from the Modbus server")
	// ErrNotModbus: what answered is not a Modbus TCP server (an HTTP
	// server on port 502, noise).
	ErrNotModbus = errors.New("not a Modbus TCP server")
	// ErrWrongID: a reply for another transaction or unit id.
	ErrWrongID = errors.New("reply with a wrong transaction or unit id")
	// ErrBadFrame: a reply cut off or longer than Modbus TCP allows.
	ErrBadFrame = errors.New("malformed Modbus reply")
	// ErrRefused: the client refused to send a read of a personal register,
	// or of more registers than a read may ask for (never happens unless
	// the plan has a bug: TestNoPersonalRegisters).
	ErrRefused = errors.New("request refused: the exporter only reads holding registers")
)

// exceptionHint is what an operator checks first after an exception.
const exceptionHint = "check that the controller's Modbus TCP Server is on and its Register Address Set is the Bender one (not Phoenix, TQ-DM100 or ISE/IGT Kassel), and the module's modbus.unit_id"

// explainException is the error of a read of b that the controller refused.
func explainException(b Block, err error) error {
	return fmt.Errorf("%w to the read of registers %d-%d: %w; %s", ErrException, b.Addr, b.Addr+b.Count-1, err, exceptionHint)
}

// Exception is a Modbus exception reply: the controller refused a read.
type Exception struct{ Code byte }

// illegalDataAddress is the exception of a read that touches an address
// the server does not have.
const illegalDataAddress = 0x02

var exceptionNames = map[byte]string{1: "illegal function", 2: "illegal data address", 3: "illegal data value",
	4: "server device failure", 5: "acknowledge", 6: "server device busy", 8: "memory parity error",
	0x0a: "gateway path unavailable", 0x0b: "gateway target device failed to respond"}

func (e *Exception) Error() string {
	if n, ok := exceptionNames[e.Code]; ok {
		return fmt.Sprintf("exception %d (%s)", e.Code, n)
	}
	return fmt.Sprintf("exception %d", e.Code)
}

// Is makes every exception an ErrException.
func (e *Exception) Is(target error) bool { return target == ErrException }

func httpHint(first []byte) string {
	if len(first) >= 5 && string(first[:5]) == "HTTP/" {
		return " (an HTTP server: is the target the controller's web interface? Modbus TCP is on port 502)"
	}
	return ""
}

func printable(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		out[i] = c
	}
	return string(out)
}

// describeDial keeps a dial error as it is, unless the deadline ended it.
func describeDial(ctx context.Context, err error) error {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: connecting: %w", collector.ErrTimeout, err)
	}
	return fmt.Errorf("connecting: %w", err)
}
