package main

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bender-cc/bender_cc_exporter/internal/loopback"
)

// extraEnv is added to the exporter's environment (--exporter-env).
var extraEnv []string

// exporterCPUs, when set, pins the exporter to these CPUs (--exporter-cpus, taskset -c).
var exporterCPUs string

// cgroup, when set, is the memory cgroup the exporter runs in (--cgroup-memory).
var cgroup *memCgroup

// exporterProc is the exporter under test.
type exporterProc struct {
	cmd     *exec.Cmd
	addr    string
	exited  chan struct{} // closed when cmd has exited
	started time.Time
	exitAt  time.Duration // when it exited, from started (once exited is closed)
}

// startExporter starts the exporter on a free loopback address. One that
// exits before it is ready (its port was taken after all) is started again
// on another address, twice at most.
func startExporter(bin string, extra []string) (*exporterProc, error) {
	for attempt := 1; ; attempt++ {
		e, err := tryExporter(bin, extra)
		if !errors.Is(err, loopback.ErrExited) || attempt == 3 {
			return e, err
		}
	}
}

func tryExporter(bin string, extra []string) (*exporterProc, error) {
	addr, err := loopback.FreeAddr()
	if err != nil {
		return nil, err
	}
	args := append([]string{"--web.listen-address=" + addr, "--log.level=error"}, extra...)
	name := bin
	if exporterCPUs != "" {
		name, args = "taskset", append([]string{"-c", exporterCPUs, bin}, args...)
	}
	if cgroup != nil {
		name, args = cgroup.wrap(name, args)
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.SysProcAttr = childAttr()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	e := &exporterProc{cmd: cmd, addr: addr, exited: make(chan struct{}), started: time.Now()}
	go func() { _ = cmd.Wait(); e.exitAt = time.Since(e.started); close(e.exited) }()
	// The landing page, not /-/ready: --exporter may be a peer exporter without it.
	if err := loopback.WaitReady("http://"+addr+"/", e.exited, 5*time.Second); err != nil {
		e.stop()
		return nil, fmt.Errorf("%s on %s: %w", bin, addr, err)
	}
	return e, nil
}

func (e *exporterProc) stop() { _ = e.cmd.Process.Kill(); <-e.exited }

// died says how the exporter ended when it exited before stop ("" while it runs).
func (e *exporterProc) died() string {
	select {
	case <-e.exited:
		return fmt.Sprintf("exited after %s: %s", e.exitAt.Round(time.Millisecond), e.cmd.ProcessState)
	default:
		return ""
	}
}

// cpuSeconds is the exporter's user+system CPU time, from /proc.
func (e *exporterProc) cpuSeconds() float64 { v, _ := e.cpu(); return v }

func (e *exporterProc) cpu() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", e.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64) // fields 14 and 15 of stat
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, nil // USER_HZ
}

// status reads one field of /proc/<pid>/status, in MiB.
func (e *exporterProc) status(field string) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", e.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, e.cmd.Process.Pid)
}

func (e *exporterProc) rssMiB() float64  { v, _ := e.status("VmRSS"); return v }
func (e *exporterProc) peakMiB() float64 { v, _ := e.status("VmHWM"); return v }

func (e *exporterProc) openFDs() int { n, _ := e.fds(); return n }

func (e *exporterProc) fds() (int, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", e.cmd.Process.Pid))
	return len(fds), err
}

// metric reads one unlabelled metric from the exporter's /metrics.
func (e *exporterProc) metric(client *http.Client, name string) string {
	v, err := e.scrape(client, name)
	if err != nil || v[name] == nil {
		return "?"
	}
	return strconv.FormatFloat(*v[name], 'f', -1, 64)
}

// scrape sums the series of each named metric on the exporter's /metrics;
// a name the exporter does not show stays nil.
func (e *exporterProc) scrape(client *http.Client, names ...string) (map[string]*float64, error) {
	resp, err := client.Get("http://" + e.addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	sums := map[string]*float64{}
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		line := s.Text()
		for _, name := range names {
			if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
				v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
				if sums[name] == nil {
					sums[name] = new(float64)
				}
				*sums[name] += v
			}
		}
	}
	return sums, s.Err()
}

// startConfigured writes the simulated fleet's config into a directory of
// its own and starts the exporter with it; stop ends the exporter and
// removes the directory.
func (o *openLoop) startConfigured() (exp *exporterProc, cfgPath string, stop func(), err error) {
	dir, err := os.MkdirTemp("", "bender-cc-loadtest")
	if err != nil {
		return nil, "", nil, err
	}
	cfgPath = filepath.Join(dir, "config.yml")
	if err = writeConfig(cfgPath, 0, true); err == nil {
		exp, err = startExporter(o.exporter, append([]string{"--config.file=" + cfgPath}, o.extra...))
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", nil, err
	}
	return exp, cfgPath, func() { exp.stop(); _ = os.RemoveAll(dir) }, nil
}

func writeConfig(path string, n int, valid bool) error {
	cfg := fmt.Sprintf("# reload %d\nmodules:\n  default:\n    timeout: %ds\n  modbus: {source: modbus}\n", n, 10+n%5)
	if !valid {
		cfg = fmt.Sprintf("# reload %d, invalid\nmodules:\n  default:\n    timeuot: 10s\n", n)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(cfg), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
