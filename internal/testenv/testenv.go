// Package testenv holds helpers that tests in several packages share.
package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// Tool returns the path of a program the tests run for real (prometheus,
// promtool). Without it the test is skipped loudly, except in CI, which must
// have installed it (.ci/run does). The tool's version goes into the test
// log; when BENDER_CC_PROMETHEUS_VERSION is set (make test runs the tests
// against Prometheus 3 and 2 so), the tool must be that version.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		msg := "!!! " + name + " not on PATH: apt-get install prometheus, or run make test !!!"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING: " + msg)
	}
	out, _ := exec.Command(p, "--version").CombinedOutput()
	first, _, _ := strings.Cut(string(out), "\n")
	t.Logf("%s: %s", p, first)
	if want := os.Getenv("BENDER_CC_PROMETHEUS_VERSION"); want != "" && !strings.Contains(first, "version "+want+" ") {
		t.Fatalf("%s is %q, want version %s (BENDER_CC_PROMETHEUS_VERSION)", p, first, want)
	}
	return p
}

// LogBuffer collects log lines from concurrent goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Reset empties the buffer.
func (l *LogBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}
