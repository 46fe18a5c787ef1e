//go:build linux

package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bender-cc/bender_cc_exporter/internal/loopback"
	"github.com/bender-cc/bender_cc_exporter/internal/testenv"
)

// listenerBound is the --web.max-connections of the listener tests.
const listenerBound = 8

// TestListenersBounded: the connection bound holds on every kind of
// listener the exporter serves, and each still works: two
// --web.listen-address at once (one bound for both), TLS and basic auth
// from --web.config.file, and a socket from systemd (--web.systemd-socket).
// On each, with every slot busy a new connection is closed at once; with
// the slots idle or silent it closes one of them and gets its answer.
func TestListenersBounded(t *testing.T) {
	t.Run("two listen addresses", func(t *testing.T) {
		second, err := loopback.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		addr, cmd := startListenerChild(t, child{args: []string{"--web.listen-address=" + second}})
		// Connections to the first address use up the bound of the second.
		checkBound(t, cmd.Process.Pid, endpoint{addr: addr}, endpoint{addr: second})
		checkBound(t, cmd.Process.Pid, endpoint{addr: second}, endpoint{addr: addr})
	})

	t.Run("TLS", func(t *testing.T) {
		certFile, keyFile, roots := selfSignedCert(t)
		e := endpoint{tls: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}}
		addr, cmd := startListenerChild(t, child{
			args:  []string{"--web.config.file=" + webConfig(t, fmt.Sprintf("tls_server_config: {cert_file: %q, key_file: %q}\n", certFile, keyFile))},
			ready: func(addr string) error { return e.at(addr).healthy() },
		})
		e.addr = addr
		// Plain HTTP gets no answer there.
		if code, err := (endpoint{addr: addr}).get("/-/healthy"); code == http.StatusOK {
			t.Errorf("plain HTTP answered %d %v on the TLS listener", code, err)
		}
		checkBound(t, cmd.Process.Pid, e, e)
	})

	t.Run("basic auth", func(t *testing.T) {
		cfg := webConfig(t, fmt.Sprintf("basic_auth_users: {%s: %q}\n", testenv.BasicAuthUser, testenv.BasicAuthHash))
		e := endpoint{auth: basicAuth(testenv.BasicAuthUser, testenv.BasicAuthPassword)}
		addr, cmd := startListenerChild(t, child{
			args:  []string{"--web.config.file=" + cfg},
			ready: func(addr string) error { return e.at(addr).healthy() },
		})
		e.addr = addr
		for _, c := range []struct {
			e    endpoint
			want int
		}{
			{endpoint{addr: addr}, http.StatusUnauthorized},
			{endpoint{addr: addr, auth: basicAuth(testenv.BasicAuthUser, "wrong")}, http.StatusUnauthorized},
			{e, http.StatusOK},
		} {
			if code, err := c.e.get("/metrics"); code != c.want {
				t.Errorf("/metrics with %q: %d %v, want %d", c.e.auth, code, err, c.want)
			}
		}
		checkBound(t, cmd.Process.Pid, e, e)
	})

	t.Run("systemd socket", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f, err := l.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		addr, cmd := startListenerChild(t, child{socket: f, addr: l.Addr().String(), args: []string{"--web.systemd-socket"}})
		// The exporter has the socket now; this process lets go of its copies.
		_ = f.Close()
		_ = l.Close()
		checkBound(t, cmd.Process.Pid, endpoint{addr: addr}, endpoint{addr: addr})
	})
}

// startListenerChild starts the exporter with the bound of these tests and
// a module whose probes outlast them (see checkBound).
func startListenerChild(t *testing.T, c child) (string, *exec.Cmd) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(cfg, []byte("modules:\n  default: {timeout: 60s}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.maxConns, c.conns = listenerBound, 4*listenerBound
	c.args = append(c.args, "--config.file="+cfg)
	addr, cmd, _ := startChild(t, c)
	http.DefaultClient.CloseIdleConnections()
	return addr, cmd
}

// checkBound proves the bound on the listener of hold, with newcomers
// through the listener of newcomer (the same one, or another of the same
// exporter: the bound is one for all).
//
//  1. With every slot busy (probes of a controller that accepts and never
//     answers), a newcomer is closed at once: no answer, and no wait.
//  2. With every slot idle (keep-alive after one request), a newcomer gets
//     its answer and one idle connection is closed to make room.
//  3. With every slot silent (connected, TLS handshake done, no request),
//     the same.
//
// Without the bound on that listener the newcomer of 1 gets its answer and
// none of 2 or 3 is closed.
func checkBound(t *testing.T, pid int, hold, newcomer endpoint) {
	t.Helper()
	base := settledFDs(t, pid, -1)

	hole := newBlackhole(t)
	held := hold.open(t, listenerBound, func(i int, c net.Conn) error {
		return hold.send(c, fmt.Sprintf("/probe?target=%s/cc/%d", hole.addr(), i))
	})
	deadline := time.Now().Add(30 * time.Second)
	for hole.accepted.Load() < listenerBound && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := hole.accepted.Load(); n < listenerBound {
		t.Fatalf("only %d of %d probes reached the controller", n, listenerBound)
	}
	code, err := newcomer.get("/-/healthy")
	switch {
	case err == nil:
		t.Errorf("busy: a connection past the bound of %d got an answer: %d", listenerBound, code)
	case errors.Is(err, os.ErrDeadlineExceeded):
		t.Errorf("busy: a connection past the bound was left waiting, not closed: %v", err)
	}
	closeAll(held)
	// A descriptor or two the exporter opens once, on its first probe.
	settledFDs(t, pid, base+2)

	for _, phase := range []struct {
		name string
		fill func(i int, c net.Conn) error
	}{
		{"idle", func(_ int, c net.Conn) error {
			if err := hold.send(c, "/-/healthy"); err != nil {
				return err
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return err
			}
			_ = c.SetReadDeadline(time.Time{})
			_, _ = io.Copy(io.Discard, resp.Body)
			return resp.Body.Close()
		}},
		{"silent", func(int, net.Conn) error { return nil }},
	} {
		held := hold.open(t, listenerBound, phase.fill)
		// Connected is not accepted yet: wait until the exporter has them all.
		for deadline := time.Now().Add(10 * time.Second); fdCount(t, pid) < base+listenerBound && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if code, err := newcomer.get("/-/healthy"); code != http.StatusOK {
			t.Errorf("%s: a connection beside %d %s ones: %d %v", phase.name, listenerBound, phase.name, code, err)
		}
		if !anyClosedByServer(held, 3*time.Second) {
			t.Errorf("%s: none of %d %s connections was closed to make room for a new one", phase.name, listenerBound, phase.name)
		}
		if n := fdCount(t, pid); n > base+listenerBound+4 {
			t.Errorf("%s: the exporter holds %d descriptors, %d before, with a bound of %d connections", phase.name, n, base, listenerBound)
		}
		closeAll(held)
		settledFDs(t, pid, base+2)
	}
}

// endpoint is how a client reaches one of the exporter's listeners.
type endpoint struct {
	addr string
	tls  *tls.Config // nil: plain HTTP
	auth string      // an Authorization header, or none
}

func (e endpoint) at(addr string) endpoint { e.addr = addr; return e }

// dial connects, with the TLS handshake done.
func (e endpoint) dial() (net.Conn, error) {
	c, err := net.DialTimeout("tcp", e.addr, 5*time.Second)
	if err != nil || e.tls == nil {
		return c, err
	}
	tc := tls.Client(c, e.tls)
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		_ = c.Close()
		return nil, err
	}
	_ = tc.SetDeadline(time.Time{})
	return tc, nil
}

// send writes a request for path.
func (e endpoint) send(c net.Conn, path string) error {
	auth := ""
	if e.auth != "" {
		auth = "Authorization: " + e.auth + "\r\n"
	}
	_, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: exporter\r\n%s\r\n", path, auth)
	return err
}

// get requests path on a new connection within 5 s: the status, or why not.
func (e endpoint) get(path string) (int, error) {
	c, err := e.dial()
	if err != nil {
		return 0, err
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := e.send(c, path); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func (e endpoint) healthy() error {
	if code, err := e.get("/-/healthy"); code != http.StatusOK {
		return fmt.Errorf("/-/healthy: %d %v", code, err)
	}
	return nil
}

// open opens n connections, each set up by fill; they are closed when the
// test ends at the latest.
func (e endpoint) open(t *testing.T, n int, fill func(i int, c net.Conn) error) []net.Conn {
	t.Helper()
	var conns []net.Conn
	t.Cleanup(func() { closeAll(conns) })
	for i := range n {
		c, err := e.dial()
		if err != nil {
			t.Fatalf("connection %d of %d: %v", i+1, n, err)
		}
		conns = append(conns, c)
		if err := fill(i, c); err != nil {
			t.Fatalf("connection %d of %d: %v", i+1, n, err)
		}
	}
	return conns
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		_ = c.Close()
	}
}

// anyClosedByServer reports whether the other end closed one of the
// connections within d.
func anyClosedByServer(conns []net.Conn, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		for _, c := range conns {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				return true
			}
		}
	}
	return false
}

// fdCount is how many file descriptors process pid holds.
func fdCount(t *testing.T, pid int) int {
	t.Helper()
	fds, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// settledFDs waits until process pid holds at most want descriptors (with
// want < 0: until the count stops falling for half a second), and returns
// the count.
func settledFDs(t *testing.T, pid, want int) int {
	t.Helper()
	n, last, since := fdCount(t, pid), -1, time.Now()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		n = fdCount(t, pid)
		if want >= 0 && n <= want {
			return n
		}
		if n != last {
			last, since = n, time.Now()
		} else if want < 0 && time.Since(since) > 500*time.Millisecond {
			return n
		}
	}
	if want >= 0 {
		var open []string
		fds, _ := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
		for _, fd := range fds {
			target, _ := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", fd.Name()))
			open = append(open, fd.Name()+"→"+target)
		}
		t.Fatalf("the exporter still holds %d descriptors, want at most %d: %v", n, want, open)
	}
	return n
}

// blackhole is a controller that accepts connections and never answers.
type blackhole struct {
	l        net.Listener
	accepted atomic.Int64
}

func newBlackhole(t *testing.T) *blackhole {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{l: l}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				closeAll(conns)
				return
			}
			conns = append(conns, c)
			b.accepted.Add(1)
		}
	}()
	t.Cleanup(func() { _ = l.Close(); <-done })
	return b
}

func (b *blackhole) addr() string { return b.l.Addr().String() }

// selfSignedCert writes a certificate for 127.0.0.1 and its key, and
// returns their files and a pool that trusts the certificate.
func selfSignedCert(t *testing.T) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "bender_cc_exporter test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for file, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
}

// webConfig writes an exporter-toolkit web config file.
func webConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func basicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}
