// Package loopback starts servers that the tests and the load tool run as
// separate processes: a free address on 127.0.0.1 for each, and the wait
// until it is ready.
package loopback

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// lowest is the lowest port FreeAddr hands out: above the ports that
// services are commonly configured on.
const lowest = 10000

// FreeAddr returns 127.0.0.1:port with a port that is free now and lies
// below the kernel's ephemeral port range. The caller hands it to a server
// process, which binds it a moment later. Ports in the ephemeral range are
// what every outgoing connection and every ":0" listener is given, so on a
// busy machine one of those can take the port in that moment (CI saw
// "bind: address already in use"); below the range only another caller of
// FreeAddr could, and it picks at random.
func FreeAddr() (string, error) {
	highest := ephemeralStart() - 1
	if highest-lowest < 1000 {
		return anyAddr() // an unusual range: take what the kernel gives
	}
	return firstFree(func() int { return lowest + rand.IntN(highest-lowest+1) })
}

// firstFree tries up to 100 ports from next and returns the first that binds.
func firstFree(next func() int) (string, error) {
	for range 100 {
		port := next()
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // in use
		}
		_ = l.Close()
		return l.Addr().String(), nil
	}
	return "", errors.New("no free port on 127.0.0.1 below the ephemeral range")
}

// ephemeralStart is the first port of Linux's ephemeral range, or the
// default of Linux (and of IANA's 49152 elsewhere, which is higher) where it
// cannot be read.
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return lo
}

func anyAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

// ErrExited is WaitReady's error for a server that exited before it was ready.
var ErrExited = errors.New("exited before it was ready")

// WaitReady polls u until it answers 200 while the server started for it
// runs; exited is closed when that server exits. A server that cannot bind
// its address exits at once, so an answer counts only if the server is
// still running a moment later: it may have come from another process.
func WaitReady(u string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get(u)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				select {
				case <-exited:
				case <-time.After(200 * time.Millisecond):
					return nil
				}
			}
		}
		select {
		case <-exited:
			return ErrExited
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after %s", u, timeout)
}
