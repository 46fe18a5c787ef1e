package e2e

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bender-cc/bender_cc_exporter/internal/loopback"
)

// TestDemo runs scripts/demo.sh as `make demo` does, opens every URL it
// prints, and stops it with Ctrl-C (SIGINT to its process group, as a
// terminal sends it): a clean stop, exit status 0.
func TestDemo(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("the demo needs curl")
	}
	sim := filepath.Join(t.TempDir(), "bender-cc-simulator")
	if out, err := exec.Command("go", "build", "-o", sim, "../cmd/bender-cc-simulator").CombinedOutput(); err != nil {
		t.Fatalf("building the simulator: %v\n%s", err, out)
	}
	simAddr, err := loopback.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	expAddr, err := loopback.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "../scripts/demo.sh")
	cmd.Env = append(os.Environ(), "EXPORTER="+buildExporter(t), "SIMULATOR="+sim, "SIM_ADDR="+simAddr, "EXPORTER_ADDR="+expAddr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }()

	var text strings.Builder
	lines := bufio.NewScanner(stdout)
	deadline := time.AfterFunc(60*time.Second, func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	defer deadline.Stop()
	for lines.Scan() {
		text.WriteString(lines.Text() + "\n")
		if strings.Contains(lines.Text(), "Ctrl-C stops everything") {
			break
		}
	}
	out := text.String()
	urls := regexp.MustCompile(`http://\S+`).FindAllString(out, -1)
	if len(urls) < 6 || !strings.Contains(out, "&debug=true") {
		t.Fatalf("the demo printed too little:\n%s", out)
	}
	for _, u := range urls {
		if strings.Contains(u, "/control/") {
			continue // a POST, shown for the reader
		}
		resp, err := http.Get(strings.Trim(u, "'"))
		if err != nil {
			t.Errorf("%s: %v", u, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: HTTP %d", u, resp.StatusCode)
		}
		if strings.Contains(u, "debug=true") && !strings.Contains(string(body), "HTTP 401") {
			t.Errorf("%s: the debug view does not show the 401:\n%s", u, body)
		}
	}

	// Ctrl-C.
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stdout)
	err = cmd.Wait()
	if err != nil || !strings.Contains(string(rest), "demo stopped") {
		t.Errorf("after Ctrl-C: %v (want exit status 0)\n%s%s", err, out, rest)
	}
}
