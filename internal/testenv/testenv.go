// Package testenv holds helpers that tests in several packages share.
package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Tool returns the path of a program the tests run for real (prometheus,
// promtool, alertmanager, amtool). Without it the test is skipped loudly,
// except in CI, which must have installed it (.ci/run and make test do). The
// tool's version goes into the test log; when the tool's version variable is
// set (BENDER_CC_PROMETHEUS_VERSION for prometheus and promtool: make test runs
// the tests against Prometheus 3 and 2 so; BENDER_CC_ALERTMANAGER_VERSION for
// alertmanager and amtool), the tool must be that version.
func Tool(t testing.TB, name string) string {
	t.Helper()
	hint, versionVar := "apt-get install prometheus, or run make test", "BENDER_CC_PROMETHEUS_VERSION"
	if name == "alertmanager" || name == "amtool" {
		hint, versionVar = "make tools builds it into .build/alertmanager-*/; put that on PATH, or run make test", "BENDER_CC_ALERTMANAGER_VERSION"
	}
	p, err := exec.LookPath(name)
	if err != nil {
		msg := "!!! " + name + " not on PATH: " + hint + " !!!"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING: " + msg)
	}
	out, _ := exec.Command(p, "--version").CombinedOutput()
	first, _, _ := strings.Cut(string(out), "\n")
	t.Logf("%s: %s", p, first)
	if want := os.Getenv(versionVar); want != "" && !strings.Contains(first, "version "+want+" ") {
		t.Fatalf("%s is %q, want version %s (%s)", p, first, want, versionVar)
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

// Int reads a number from the environment (a knob that scales a test up),
// def when unset.
func Int(t testing.TB, name string, def int) int {
	t.Helper()
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

// Basic-auth credentials of the exporters the tests run behind
// basic_auth_users: BasicAuthHash is a bcrypt hash (cost 10, as htpasswd -B
// makes) of BasicAuthPassword.
const (
	BasicAuthUser     = "prometheus"
	BasicAuthPassword = "scrape-s3cret"
	BasicAuthHash     = "$2a$10$GVMe2jlRn8XHNl8lPSOKMemHZprM99C.emRKvVfZVV/vhjH4htiKq"
)
