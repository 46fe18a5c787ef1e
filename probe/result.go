package probe

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/bender-cc/bender_cc_exporter/collector"
	"github.com/bender-cc/bender_cc_exporter/config"
	"github.com/bender-cc/bender_cc_exporter/modbus"
)

// The outcomes of a probe: the result label of
// bender_cc_exporter_probes_total (docs/metrics.md). A fixed set, so that
// the label stays bounded whatever controllers answer.
const (
	ResultSuccess          = "success"
	ResultTimeout          = "timeout"
	ResultConnectionFailed = "connection_failed"
	ResultDNS              = "dns_error"
	ResultTLS              = "tls_error"
	ResultUnauthorized     = "unauthorized"
	ResultRESTDisabled     = "rest_disabled"
	ResultHTTPStatus       = "http_error"
	ResultNotFullState     = "not_full_state"
	ResultTooLarge         = "too_large"
	ResultTruncated        = "truncated"
	ResultRedirectRefused  = "redirect_refused"
	ResultNotAllowed       = "not_allowed"
	ResultSecret           = "secret_unreadable"
	ResultModbusException  = "modbus_exception"
	ResultNotModbus        = "not_modbus"
	ResultModbusWrongID    = "modbus_wrong_id"
	ResultModbusBadFrame   = "modbus_bad_frame"
	ResultOther            = "other"
)

// Results lists every result, success first.
var Results = []string{
	ResultSuccess, ResultTimeout, ResultConnectionFailed, ResultDNS, ResultTLS,
	ResultUnauthorized, ResultRESTDisabled, ResultHTTPStatus, ResultNotFullState,
	ResultTooLarge, ResultTruncated, ResultRedirectRefused, ResultNotAllowed, ResultSecret,
	ResultModbusException, ResultNotModbus, ResultModbusWrongID, ResultModbusBadFrame, ResultOther,
}

// Classify names the outcome of a probe from its error. The order matters:
// a body cut by the deadline is a timeout, not a truncation.
func Classify(err error) string {
	if err == nil {
		return ResultSuccess // before the targets of errors.As, which escape
	}
	return classifyError(err)
}

func classifyError(err error) string {
	if r, ok := classifyEarly(err); ok {
		return r
	}
	var (
		status *collector.StatusError
		dns    *net.DNSError
		netErr net.Error
	)
	switch {
	case errors.Is(err, config.ErrSecret):
		return ResultSecret
	case errors.Is(err, config.ErrRedirect):
		return ResultRedirectRefused
	case errors.Is(err, config.ErrNotAllowed):
		// The address was allowed when the probe was accepted, but the
		// host name now resolves outside probe.allowed_targets.
		return ResultNotAllowed
	case errors.Is(err, collector.ErrTimeout), errors.As(err, &netErr) && netErr.Timeout():
		return ResultTimeout
	case errors.As(err, &dns):
		return ResultDNS
	case isTLS(err):
		return ResultTLS
	case errors.As(err, &status):
		switch status.Code {
		case 401, 403:
			return ResultUnauthorized
		case 404:
			return ResultRESTDisabled
		}
		return ResultHTTPStatus
	case errors.Is(err, collector.ErrTooLarge), errors.Is(err, config.ErrHeaderTooLarge):
		return ResultTooLarge
	case errors.Is(err, collector.ErrTruncated):
		return ResultTruncated
	case errors.Is(err, collector.ErrNotFullState):
		return ResultNotFullState
	case errors.Is(err, modbus.ErrException):
		return ResultModbusException
	case errors.Is(err, modbus.ErrNotModbus):
		return ResultNotModbus
	case errors.Is(err, modbus.ErrWrongID):
		return ResultModbusWrongID
	case errors.Is(err, modbus.ErrBadFrame):
		return ResultModbusBadFrame
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF):
		// io.EOF: the controller closed the connection without an answer.
		return ResultConnectionFailed
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return ResultConnectionFailed
	}
	return ResultOther
}

func isTLS(err error) bool {
	var (
		verify *tls.CertificateVerificationError
		record tls.RecordHeaderError
		alert  tls.AlertError
	)
	return errors.As(err, &verify) || errors.As(err, &record) || errors.As(err, &alert)
}
