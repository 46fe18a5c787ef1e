package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: x
  labels: {app: x}
spec:
  replicas: 1
  selector:
    matchLabels: {app: x}
  template:
    metadata:
      labels: {app: x}
    spec:
      securityContext: {runAsNonRoot: true}
      containers:
        - name: exporter
          image: example/x:1
          securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}
          livenessProbe: {httpGet: {path: /-/healthy, port: 9955}}
          readinessProbe: {httpGet: {path: /-/ready, port: 9955}}
          resources: {requests: {memory: 32Mi}}
`

const serviceMonitor = `apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: x}
spec:
  selector: {matchLabels: {app: x}}
  endpoints:
    - port: http
      interval: 30s
`

// TestStrict: a valid stream passes; every kind of mistake fails, naming it.
func TestStrict(t *testing.T) {
	if _, err := Validate([]byte("# comment\n---\n"+deployment+"---\n"+serviceMonitor), Options{}); err != nil {
		t.Fatalf("valid manifests: %v", err)
	}
	for _, tt := range []struct{ name, doc, want string }{
		{"misspelt top-level field", strings.Replace(deployment, "replicas:", "replica:", 1), `unknown field "spec.replica"`},
		{"misspelt nested field", strings.Replace(deployment, "readOnlyRootFilesystem", "readOnlyRootFileSystem", 1), "unknown field"},
		{"wrong type", strings.Replace(deployment, "replicas: 1", "replicas: one", 1), "replicas"},
		{"bad quantity", strings.Replace(deployment, "memory: 32Mi", "memory: 32 MB", 1), "quantities must match"},
		{"operator type field", strings.Replace(serviceMonitor, "interval:", "intervall:", 1), `unknown field "spec.endpoints[0].intervall"`},
		{"unknown kind", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n", "not a kind this chart renders"},
		{"invalid label value", strings.Replace(deployment, "labels: {app: x}\nspec:", "labels: {app: 'x y'}\nspec:", 1), "valid label"},
		{"writable root", strings.Replace(deployment, "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", 1), "not read-only"},
		{"duplicate field", strings.Replace(deployment, "replicas: 1", "replicas: 1\n  replicas: 2", 1), "replicas"},
	} {
		_, err := Validate([]byte(tt.doc), Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error with %q", tt.name, err, tt.want)
		}
	}
}

// TestRulesAndDashboardsMatchTheRepository: the PrometheusRule and the
// dashboard ConfigMaps must hold the repository's files unchanged.
func TestRulesAndDashboardsMatchTheRepository(t *testing.T) {
	dir := t.TempDir()
	rules := "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        for: 5m\n"
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "d.json"), []byte(`{"title": "D"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := Options{RulesFile: filepath.Join(dir, "rules.yml"), DashboardsDir: dir}
	rule := "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: r}\nspec:\n" + indent(rules)
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d, labels: {grafana_dashboard: '1'}}\ndata:\n  d.json: |-\n    {\"title\": \"D\"}\n"
	if _, err := Validate([]byte(rule+"---\n"+cm), opts); err != nil {
		t.Fatalf("matching rules and dashboard: %v", err)
	}
	if _, err := Validate([]byte(strings.Replace(rule, "for: 5m", "for: 10m", 1)), opts); err == nil || !strings.Contains(err.Error(), "groups differ") {
		t.Errorf("changed rule: %v", err)
	}
	if _, err := Validate([]byte(strings.Replace(cm, `"D"`, `"E"`, 1)), opts); err == nil || !strings.Contains(err.Error(), "differs") {
		t.Errorf("changed dashboard: %v", err)
	}
}

func TestCheckKinds(t *testing.T) {
	got := map[string]int{"Deployment": 1, "Probe": 2}
	if err := checkKinds(got, "Deployment=1,Probe=2"); err != nil {
		t.Error(err)
	}
	if err := checkKinds(got, "Deployment=1"); err == nil {
		t.Error("an extra kind passed")
	}
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}
