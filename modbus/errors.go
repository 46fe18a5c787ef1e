package modbus

import (
	"context"
	"errors"
	"fmt"
	"io"

	mb "github.com/simonvetter/modbus"

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
	// ErrRefused: the relay refused a request other than a read (never
	// happens unless the reader has a bug: the exporter only reads).
	ErrRefused = errors.New("request refused: the exporter only reads holding registers")
)

// exceptionHint is what an operator checks first after an exception.
const exceptionHint = "check that the controller's Modbus TCP Server is on and its Register Address Set is the Bender one (not Phoenix, TQ-DM100 or ISE/IGT Kassel), and the module's modbus.unit_id"

// explain turns what the library returned for a read of block b into an
// error an operator can act on, keeping the cause wrapped.
func (s *session) explain(err error, b Block) error {
	if c := s.cause.Load(); c != nil {
		return *c
	}
	if s.ctx.Err() != nil || errors.Is(err, mb.ErrRequestTimedOut) {
		got, _ := s.replied()
		return fmt.Errorf("%w: no Modbus reply to the read of registers %d-%d (%d bytes received; is the controller's Modbus TCP Server on, and this its Modbus port?): %w", collector.ErrTimeout, b.Addr, b.Addr+b.Count-1, got, err)
	}
	got, first := s.replied()
	switch {
	case isException(err):
		return fmt.Errorf("%w to the read of registers %d-%d: %w; %s", ErrException, b.Addr, b.Addr+b.Count-1, err, exceptionHint)
	case errors.Is(err, mb.ErrBadUnitId):
		return fmt.Errorf("%w: the reply came from another unit id; %s", ErrWrongID, "set the module's modbus.unit_id to the one the controller answers (255 by default, 1 for AMTRON 4You)")
	case errors.Is(err, mb.ErrProtocolError) && notModbus(first):
		return fmt.Errorf("%w: the reply starts %q%s", ErrNotModbus, printable(first), httpHint(first))
	case errors.Is(err, mb.ErrProtocolError):
		return fmt.Errorf("%w: a reply to the read of registers %d-%d with a length Modbus TCP does not allow (%d bytes received)", ErrBadFrame, b.Addr, b.Addr+b.Count-1, got)
	case errors.Is(err, io.ErrUnexpectedEOF) || (errors.Is(err, io.EOF) && got > 0):
		return fmt.Errorf("%w: the reply to the read of registers %d-%d was cut off after %d bytes", ErrBadFrame, b.Addr, b.Addr+b.Count-1, got)
	case errors.Is(err, io.EOF) || errors.Is(err, errClosed):
		return fmt.Errorf("the controller closed the connection without a reply: %w", io.EOF)
	}
	return err
}

func isException(err error) bool {
	for _, e := range []error{mb.ErrIllegalFunction, mb.ErrIllegalDataAddress, mb.ErrIllegalDataValue,
		mb.ErrServerDeviceFailure, mb.ErrAcknowledge, mb.ErrServerDeviceBusy, mb.ErrMemoryParityError,
		mb.ErrGWPathUnavailable, mb.ErrGWTargetFailedToRespond} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// notModbus says whether the first bytes of a reply cannot be a Modbus TCP
// header: its protocol identifier (bytes 2-3) is always 0.
func notModbus(first []byte) bool {
	return len(first) >= 4 && (first[2] != 0 || first[3] != 0)
}

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
