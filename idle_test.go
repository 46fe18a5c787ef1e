//go:build linux

package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bender-cc/bender_cc_exporter/internal/loopback"
	"github.com/bender-cc/bender_cc_exporter/internal/testenv"
)

// TestIdleExporterChild is the exporter that startChild runs as a child
// process, with a file descriptor limit of its own.
func TestIdleExporterChild(t *testing.T) {
	addr := os.Getenv("BENDER_CC_IDLE_CHILD")
	if addr == "" {
		t.Skip("only run by startChild")
	}
	if n := testenv.Int(t, "BENDER_CC_IDLE_NOFILE", 0); n > 0 {
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
		lim.Cur = uint64(n)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"--web.idle-timeout=" + os.Getenv("BENDER_CC_IDLE_TIMEOUT"), "--log.level=warn"}
	if addr != systemdChild {
		args = append(args, "--web.listen-address="+addr)
	}
	if m := os.Getenv("BENDER_CC_MAX_CONNS"); m != "" {
		args = append(args, "--web.max-connections="+m)
	}
	if more := os.Getenv("BENDER_CC_CHILD_ARGS"); more != "" {
		args = append(args, strings.Split(more, "\n")...)
	}
	os.Exit(run(args, os.Stderr))
}

// systemdChild in BENDER_CC_IDLE_CHILD: no --web.listen-address, the
// listener comes from socket activation.
const systemdChild = "systemd"

// child is an exporter that startChild runs.
type child struct {
	conns    int      // client connections the test opens: this process's fd limit is raised for them
	nofile   int      // the child's fd limit (0: this process's)
	idle     string   // --web.idle-timeout (default 1m)
	maxConns int      // --web.max-connections
	args     []string // more flags
	// socket, when set, is passed as fd 3 with LISTEN_FDS=1 and LISTEN_PID the
	// child's (systemd socket activation); addr is its address.
	socket *os.File
	addr   string
	// ready is polled with the address until it returns nil (default: GET
	// /-/healthy answers 200).
	ready func(addr string) error
}

// startChild raises this process's file descriptor limit for c.conns client
// connections and starts TestIdleExporterChild as c says. It returns the
// address (a free one unless c.addr is set), the command and its stderr.
func startChild(t testing.TB, c child) (string, *exec.Cmd, *testenv.LogBuffer) {
	t.Helper()
	if err := testenv.RaiseFileLimit(uint64(c.conns + 100)); err != nil {
		t.Skipf("%d connections need %d file descriptors here: %v", c.conns, c.conns+100, err)
	}
	addr, childAddr := c.addr, systemdChild
	if c.socket == nil {
		var err error
		if addr, err = loopback.FreeAddr(); err != nil {
			t.Fatal(err)
		}
		childAddr = addr
	}
	testRun := "-test.run=^TestIdleExporterChild$"
	cmd := exec.Command(os.Args[0], testRun)
	if c.socket != nil {
		// LISTEN_PID must be the exporter's own pid: the shell sets it to its
		// own, then becomes the exporter.
		cmd = exec.Command("sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, os.Args[0], testRun)
		cmd.ExtraFiles = []*os.File{c.socket}
		cmd.Env = append(cmd.Env, "LISTEN_FDS=1")
	}
	cmd.Env = append(append(os.Environ(), cmd.Env...), "BENDER_CC_IDLE_CHILD="+childAddr, fmt.Sprintf("BENDER_CC_IDLE_NOFILE=%d", c.nofile),
		"BENDER_CC_IDLE_TIMEOUT="+cmp.Or(c.idle, "1m"), fmt.Sprintf("BENDER_CC_MAX_CONNS=%d", c.maxConns),
		"BENDER_CC_CHILD_ARGS="+strings.Join(c.args, "\n"))
	stderr := &testenv.LogBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	ready := c.ready
	if ready == nil {
		ready = func(addr string) error {
			return loopback.WaitReady("http://"+addr+"/-/healthy", exited, 30*time.Second)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err := ready(addr)
		if err == nil {
			break
		}
		select {
		case <-exited:
			t.Fatalf("the exporter exited: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
	}
	return addr, cmd, stderr
}

// TestIdleConnections: more keep-alive connections than the exporter has
// file descriptors, each after one GET /-/healthy left idle, exhaust them
// (the exporter logs "too many open files"); the idle timeout closes them,
// every one of them gets its answer, and /-/healthy answers afterwards.
// BENDER_CC_IDLE_CONNS, BENDER_CC_IDLE_NOFILE and BENDER_CC_IDLE_TIMEOUT
// scale it up (the timeout must outlast opening the connections, or they
// never pile up).
func TestIdleConnections(t *testing.T) {
	conns := testenv.Int(t, "BENDER_CC_IDLE_CONNS", 300)
	nofile := testenv.Int(t, "BENDER_CC_IDLE_NOFILE", 128)
	idle := cmp.Or(os.Getenv("BENDER_CC_IDLE_TIMEOUT"), "1s")
	// No connection bound here: the idle timeout alone must clean up.
	addr, cmd, stderr := startChild(t, child{conns: conns, nofile: nofile, idle: idle})
	http.DefaultClient.CloseIdleConnections()

	// Every connection sends one request and then only listens: it must get
	// its answer and then be closed by the exporter.
	var wg sync.WaitGroup
	var answered, closed atomic.Int64
	deadline := time.Now().Add(60 * time.Second) // generous: the idle timeout is 1s by default
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("after %d connections: %v", answered.Load(), err)
		}
		if _, err := io.WriteString(c, "GET /-/healthy HTTP/1.1\r\nHost: exporter\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { _ = c.Close() }()
			_ = c.SetReadDeadline(deadline)
			b, err := io.ReadAll(c) // until the exporter closes it
			if strings.HasPrefix(string(b), "HTTP/1.1 200 OK") {
				answered.Add(1)
			}
			if err == nil {
				closed.Add(1)
			}
		}()
	}
	wg.Wait()
	if a, c := answered.Load(), closed.Load(); a != int64(conns) || c != int64(conns) {
		t.Errorf("of %d idle connections %d were answered and %d closed by the exporter", conns, a, c)
	}
	if !strings.Contains(stderr.String(), "too many open files") {
		t.Errorf("the exporter never ran out of file descriptors: the test proves nothing\n%s", stderr.String())
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/-/healthy")
	if err != nil {
		t.Fatalf("/-/healthy after the idle connections: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/-/healthy after the idle connections: %s", resp.Status)
	}
	client.CloseIdleConnections()
	if fds, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "fd")); err == nil {
		t.Logf("%d idle connections against %d file descriptors, idle timeout %s; the exporter holds %d descriptors afterwards", conns, nofile, idle, len(fds))
	}
}

// TestIdleConnectionsBounded: with the connection bound, far more idle
// keep-alive connections than the exporter has file descriptors (and an
// idle timeout too long to help) never exhaust them, and /-/healthy
// answers every time while they pile up: each new connection closes the
// one idle longest.
func TestIdleConnectionsBounded(t *testing.T) {
	// BENDER_CC_IDLE_CONNS, _NOFILE and _MAX_CONNS scale it up (19,000
	// connections against 10,000 descriptors in docs/security.md).
	conns := testenv.Int(t, "BENDER_CC_IDLE_CONNS", 1000)
	nofile := testenv.Int(t, "BENDER_CC_IDLE_NOFILE", 128)
	maxConns := testenv.Int(t, "BENDER_CC_IDLE_MAX_CONNS", 64)
	addr, cmd, stderr := startChild(t, child{conns: conns, nofile: nofile, idle: "10m", maxConns: maxConns})
	http.DefaultClient.CloseIdleConnections()

	healthy := endpoint{addr: addr}.healthy
	var held []net.Conn
	t.Cleanup(func() {
		for _, c := range held {
			_ = c.Close()
		}
	})
	failures := 0
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("after %d connections: %v", i, err)
		}
		held = append(held, c)
		if _, err := io.WriteString(c, "GET /-/healthy HTTP/1.1\r\nHost: exporter\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		// The attacker reads its answer and then keeps the connection idle.
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		if i%50 == 49 {
			if err := healthy(); err != nil {
				failures++
				t.Errorf("/-/healthy with %d idle connections open: %v", i+1, err)
			}
		}
	}
	if strings.Contains(stderr.String(), "too many open files") {
		t.Errorf("the exporter ran out of file descriptors despite the bound:\n%s", stderr.String())
	}
	if fds, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "fd")); err == nil {
		if len(fds) > maxConns+32 {
			t.Errorf("the exporter holds %d file descriptors with a bound of %d connections", len(fds), maxConns)
		}
		t.Logf("%d idle connections against %d file descriptors and --web.max-connections=%d: /-/healthy failed %d of %d times; the exporter holds %d descriptors", conns, nofile, maxConns, failures, conns/50, len(fds))
	}
}
