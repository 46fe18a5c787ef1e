package collector

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// ModbusScheme is the scheme of a Modbus TCP target: modbus://host[:port].
const ModbusScheme = "modbus"

// DefaultModbusPort is where controllers serve Modbus TCP; a station's second
// connector answers on the next port (503).
const DefaultModbusPort = 502

// ParseModbusTarget turns a probe target of a Modbus module into a
// modbus://host:port URL. It accepts "host", "host:port", "[v6]:port" and
// "modbus://host[:port]"; without a port, port is used.
func ParseModbusTarget(target string, port int) (*url.URL, error) {
	s := strings.TrimSpace(target)
	if s == "" {
		return nil, errors.New("empty target")
	}
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		if scheme != ModbusScheme {
			return nil, fmt.Errorf("invalid target %q: a Modbus module takes host[:port] or modbus://host[:port], not %s://", RedactTarget(target), scheme)
		}
		s = rest
	}
	if strings.ContainsAny(s, "/?#@ ") {
		return nil, fmt.Errorf("invalid target %q: a Modbus target is host[:port], without path, query or credentials", RedactTarget(target))
	}
	host, p := s, strconv.Itoa(port)
	if h, pp, err := net.SplitHostPort(s); err == nil {
		host, p = h, pp
	} else if strings.Count(s, ":") > 1 && net.ParseIP(s) != nil {
		host = s // a bare IPv6 address
	} else if strings.Contains(s, ":") {
		return nil, fmt.Errorf("invalid target %q: %w", target, err)
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		return nil, fmt.Errorf("invalid target %q: no host", target)
	}
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("invalid target %q: port must be 1-65535", target)
	}
	return &url.URL{Scheme: ModbusScheme, Host: net.JoinHostPort(host, p)}, nil
}
