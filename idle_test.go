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

// envInt reads a number from the environment, def when unset.
func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// TestIdleExporterChild is the exporter that TestIdleConnections runs as a
// child process, with a file descriptor limit of its own.
func TestIdleExporterChild(t *testing.T) {
	addr := os.Getenv("BENDER_CC_IDLE_CHILD")
	if addr == "" {
		t.Skip("only run by TestIdleConnections")
	}
	n := uint64(envInt(t, "BENDER_CC_IDLE_NOFILE", 0))
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	args := []string{"--web.listen-address=" + addr, "--web.idle-timeout=" + os.Getenv("BENDER_CC_IDLE_TIMEOUT"), "--log.level=warn"}
	if m := os.Getenv("BENDER_CC_MAX_CONNS"); m != "" {
		args = append(args, "--web.max-connections="+m)
	}
	os.Exit(run(args, os.Stderr))
}

// startIdleChild raises this process's file descriptor limit for conns
// client connections and starts TestIdleExporterChild: an exporter with
// nofile descriptors, the idle timeout and --web.max-connections given.
func startIdleChild(t *testing.T, conns, nofile int, idle string, maxConns int) (string, *exec.Cmd, *testenv.LogBuffer) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if need := uint64(conns + 100); lim.Cur < need {
		lim.Cur, lim.Max = need, max(lim.Max, need)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Skipf("%d connections need %d file descriptors here: %v", conns, need, err)
		}
	}
	addr, err := loopback.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleExporterChild$")
	cmd.Env = append(os.Environ(), "BENDER_CC_IDLE_CHILD="+addr, fmt.Sprintf("BENDER_CC_IDLE_NOFILE=%d", nofile),
		"BENDER_CC_IDLE_TIMEOUT="+idle, fmt.Sprintf("BENDER_CC_MAX_CONNS=%d", maxConns))
	stderr := &testenv.LogBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	if err := loopback.WaitReady("http://"+addr+"/-/healthy", exited, 30*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
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
	conns := envInt(t, "BENDER_CC_IDLE_CONNS", 300)
	nofile := envInt(t, "BENDER_CC_IDLE_NOFILE", 128)
	idle := cmp.Or(os.Getenv("BENDER_CC_IDLE_TIMEOUT"), "1s")
	// No connection bound here: the idle timeout alone must clean up.
	addr, cmd, stderr := startIdleChild(t, conns, nofile, idle, 0)
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
	conns := envInt(t, "BENDER_CC_IDLE_CONNS", 1000)
	nofile := envInt(t, "BENDER_CC_IDLE_NOFILE", 128)
	maxConns := envInt(t, "BENDER_CC_IDLE_MAX_CONNS", 64)
	addr, cmd, stderr := startIdleChild(t, conns, nofile, "10m", maxConns)
	http.DefaultClient.CloseIdleConnections()

	healthy := func() error {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer func() { _ = c.Close() }()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET /-/healthy HTTP/1.1\r\nHost: exporter\r\nConnection: close\r\n\r\n"); err != nil {
			return err
		}
		b, err := io.ReadAll(c)
		if !strings.HasPrefix(string(b), "HTTP/1.1 200 OK") {
			return fmt.Errorf("answer %q, %v", b, err)
		}
		return nil
	}
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
