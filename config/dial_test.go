package config

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bender-cc/bender_cc_exporter/internal/blackhole"
	"github.com/bender-cc/bender_cc_exporter/modbus"
)

// TestNoConnectOutlivesItsProbe: a probe of a controller whose SYNs are
// dropped ends at its deadline, and so does its connect. net/http goes on
// dialling after the request is cancelled; without the probe's time on
// the dial, the socket stayed in SYN-SENT for the kernel's two minutes of
// retries after every such probe (the blackout run's OOM kill).
func TestNoConnectOutlivesItsProbe(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the blackhole and /proc/net/tcp are Linux's")
	}
	hole, client := holeAndClient(t)
	const probe = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(WithProbeTimeout(context.Background(), probe), probe)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+hole.Addr()+"/rest/full_state", nil)
	if resp, err := client.Do(req); err == nil {
		_ = resp.Body.Close()
		t.Fatal("a GET through a blackhole got an answer")
	}
	waitNoSynSent(t, hole.Addr(), "its probe of "+probe.String()+" ended")
}

// TestNoModbusConnectOutlivesItsProbe: a Modbus probe connects through the
// module's dialer with the probe's own context, so its connect ends with the
// probe too, at its deadline or when it is given up before.
func TestNoModbusConnectOutlivesItsProbe(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the blackhole and /proc/net/tcp are Linux's")
	}
	for _, tt := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"its deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(WithProbeTimeout(context.Background(), 300*time.Millisecond), 300*time.Millisecond)
		}},
		{"given up", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(WithProbeTimeout(context.Background(), time.Hour))
			time.AfterFunc(300*time.Millisecond, cancel)
			return ctx, cancel
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hole, snap := holeAndSnapshot(t)
			ctx, cancel := tt.ctx()
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- modbus.Probe(ctx, snap.ModbusDialer(DefaultModule), hole.Addr(), 255).Err }()
			<-ctx.Done()
			waitNoSynSent(t, hole.Addr(), "its probe ended ("+tt.name+")")
			if err := <-done; err == nil {
				t.Fatal("a Modbus probe through a blackhole read registers")
			}
		})
	}
}

// holeAndClient returns a blackholed address and the default module's
// client (a module timeout of 30 s).
func holeAndClient(t *testing.T) (*blackhole.Hole, *http.Client) {
	hole, snap := holeAndSnapshot(t)
	return hole, snap.Client(DefaultModule)
}

// holeAndSnapshot returns a blackholed address and a configuration whose
// default module has a timeout of 30 s.
func holeAndSnapshot(t *testing.T) (*blackhole.Hole, *Snapshot) {
	hole, err := blackhole.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hole.Close() })
	path := filepath.Join(t.TempDir(), "c.yml")
	if err := os.WriteFile(path, []byte("modules: {default: {timeout: 30s}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := NewHolder(path, "test", nil)
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	return hole, h.Get()
}

// waitNoSynSent waits until no connect to addr is in SYN-SENT: well past
// the probe's end, far short of the kernel's SYN retries
// (tcp_syn_retries 6: about 127 s).
func waitNoSynSent(t *testing.T, addr, after string) {
	_, port, _ := strings.Cut(addr, ":")
	for deadline := time.Now().Add(15 * time.Second); synSent(t, port) > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a connect to %s is still in SYN-SENT 15 s after %s: the dial outlives the probe", addr, after)
		}
	}
}

// synSent counts this host's IPv4 sockets in SYN-SENT to the port.
func synSent(t *testing.T, port string) int {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		t.Skip(err)
	}
	defer func() { _ = f.Close() }()
	p, _ := strconv.Atoi(port)
	want := fmt.Sprintf(":%04X", p)
	n := 0
	s := bufio.NewScanner(f)
	for s.Scan() {
		// sl local_address rem_address st ...
		fields := strings.Fields(s.Text())
		if len(fields) > 3 && strings.HasSuffix(fields[2], want) && fields[3] == "02" {
			n++
		}
	}
	return n
}

// TestNoConnectOutlivesAPreemptedProbe: a probe given up before its time
// (preempted to make room, or every probe sharing its request gone) ends
// its connect too, however long its timeout.
func TestNoConnectOutlivesAPreemptedProbe(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the blackhole and /proc/net/tcp are Linux's")
	}
	hole, client := holeAndClient(t)
	probe, cancelProbe := context.WithCancel(context.Background())
	ctx := WithProbeTimeout(probe, time.Hour)
	time.AfterFunc(300*time.Millisecond, cancelProbe)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+hole.Addr()+"/rest/full_state", nil)
	if resp, err := client.Do(req); err == nil {
		_ = resp.Body.Close()
		t.Fatal("a GET through a blackhole got an answer")
	}
	waitNoSynSent(t, hole.Addr(), "its probe was given up")
}
