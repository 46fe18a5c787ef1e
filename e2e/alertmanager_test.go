package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v2"
)

// notification is one webhook call of Alertmanager.
type notification struct {
	Receiver     string `json:"-"`
	Status       string
	GroupLabels  map[string]string `json:"groupLabels"`
	CommonLabels map[string]string `json:"commonLabels"`
	Alerts       []struct {
		Status      string
		Labels      map[string]string
		Annotations map[string]string
	}
	Raw string `json:"-"`
}

// webhook receives Alertmanager's notifications, one path per receiver.
type webhook struct {
	mu   sync.Mutex
	got  []notification
	srv  *httptest.Server
	errs []string
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var n notification
		err := json.Unmarshal(b, &n)
		n.Receiver, n.Raw = strings.TrimPrefix(r.URL.Path, "/"), string(b)
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil {
			w.errs = append(w.errs, err.Error())
		}
		w.got = append(w.got, n)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

// with returns the notifications that carry an alert with these labels (and
// status, if set), and the alerts' count in each.
func (w *webhook) with(status string, labels map[string]string) []notification {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []notification
	for _, n := range w.got {
	alerts:
		for _, a := range n.Alerts {
			if status != "" && a.Status != status {
				continue
			}
			for k, v := range labels {
				if a.Labels[k] != v {
					continue alerts
				}
			}
			out = append(out, n)
			break
		}
	}
	return out
}

// since returns the notifications received after the first mark ones.
func (w *webhook) since(mark int) []notification {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.got[min(mark, len(w.got)):])
}

// mark is the number of notifications received so far, for since.
func (w *webhook) mark() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.got)
}

// alertmanagerConfig is alerts/alertmanager.yml.example with its receivers
// replaced by the test's webhook (one path per receiver) and its waits and
// intervals shortened; routes, grouping and inhibitions stay as shipped.
func alertmanagerConfig(t *testing.T, hook string) string {
	t.Helper()
	b, err := os.ReadFile("../alerts/alertmanager.yml.example")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	var receivers []map[string]any
	for _, r := range cfg["receivers"].([]any) {
		name := r.(map[any]any)["name"].(string)
		receivers = append(receivers, map[string]any{"name": name, "webhook_configs": []map[string]any{{"url": hook + "/" + name, "send_resolved": true}}})
	}
	cfg["receivers"] = receivers
	delete(cfg, "global") // the e-mail relay: no receiver uses it now
	// Critical pages go out 1 s after the alert and their changes (resolved) 2 s
	// later; warnings wait 5 s for the rest of their group and then 1 min.
	timings := map[string][2]string{"critical": {"1s", "2s"}, "warning": {"5s", "1m"}, "info": {"5s", "1m"}}
	route := cfg["route"].(map[any]any)
	route["group_wait"], route["group_interval"] = "5s", "1m"
	for _, sub := range route["routes"].([]any) {
		r := sub.(map[any]any)
		sev := strings.TrimSuffix(strings.TrimPrefix(r["matchers"].([]any)[0].(string), `severity="`), `"`)
		tm, ok := timings[sev]
		if !ok {
			t.Fatalf("route %v: not a severity route", r["matchers"])
		}
		r["group_wait"], r["group_interval"] = tm[0], tm[1]
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "alertmanager.yml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// amAlert is an alert as Alertmanager's API lists it.
type amAlert struct {
	Labels      map[string]string
	Fingerprint string
	Status      struct {
		State       string
		InhibitedBy []string
		SilencedBy  []string
	}
}

func amAlerts(t *testing.T, am string) []amAlert {
	t.Helper()
	resp, err := http.Get("http://" + am + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out []amAlert
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// amFind returns the alerts of Alertmanager that have these labels.
func amFind(t *testing.T, am string, labels map[string]string) []amAlert {
	var out []amAlert
next:
	for _, a := range amAlerts(t, am) {
		for k, v := range labels {
			if a.Labels[k] != v {
				continue next
			}
		}
		out = append(out, a)
	}
	return out
}
