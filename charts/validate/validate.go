// Command validate checks the manifests that `helm template` renders from
// the bender-cc-exporter chart, offline and strictly:
//
//   - every document decodes into its Kubernetes or Prometheus Operator Go
//     type with unknown and duplicate fields refused, so a misspelt field
//     fails (a kind the chart does not make fails too);
//   - names and labels are valid Kubernetes names and label values;
//   - a PrometheusRule holds exactly the groups of alerts/bender_cc.rules.yml;
//   - a dashboard ConfigMap holds exactly the JSON of dashboards/;
//   - the exporter's config.yml is written out for `bender_cc_exporter
//     --config.check`.
//
// It is a Go module of its own, so that the Kubernetes API types stay out of
// the exporter's go.mod.
//
//	helm template x charts/bender-cc-exporter > all.yaml
//	go run . -rules ../../alerts/bender_cc.rules.yml -dashboards ../../dashboards -config-out config.yml all.yaml
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	k8sjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// object is what every Kubernetes type has.
type object interface {
	GetName() string
	GetNamespace() string
	GetLabels() map[string]string
	GetAnnotations() map[string]string
}

// kinds are the types the chart may render, by apiVersion and kind.
var kinds = map[string]func() object{
	"v1/ConfigMap":       func() object { return &corev1.ConfigMap{} },
	"v1/Service":         func() object { return &corev1.Service{} },
	"v1/ServiceAccount":  func() object { return &corev1.ServiceAccount{} },
	"apps/v1/Deployment": func() object { return &appsv1.Deployment{} },
	"monitoring.coreos.com/v1/ServiceMonitor":     func() object { return &monitoringv1.ServiceMonitor{} },
	"monitoring.coreos.com/v1/Probe":              func() object { return &monitoringv1.Probe{} },
	"monitoring.coreos.com/v1/PrometheusRule":     func() object { return &monitoringv1.PrometheusRule{} },
	"monitoring.coreos.com/v1alpha1/ScrapeConfig": func() object { return &monitoringv1alpha1.ScrapeConfig{} },
}

// Options are the repository files the rendered manifests must match.
type Options struct {
	RulesFile     string // alerts/bender_cc.rules.yml
	DashboardsDir string // dashboards/
}

// Report is what Validate found.
type Report struct {
	Kinds  map[string]int // "Deployment" → how many
	Config []byte         // data["config.yml"] of the exporter's ConfigMap
}

// Validate checks a multi-document manifest stream.
func Validate(stream []byte, opts Options) (*Report, error) {
	rep := &Report{Kinds: map[string]int{}}
	var errs []error
	for i, doc := range splitDocuments(stream) {
		if err := rep.check(doc, opts); err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", i+1, err))
		}
	}
	if len(rep.Kinds) == 0 {
		errs = append(errs, errors.New("no manifests"))
	}
	return rep, errors.Join(errs...)
}

func (rep *Report) check(doc []byte, opts Options) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	newObj, ok := kinds[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return fmt.Errorf("%s %s is not a kind this chart renders", tm.APIVersion, tm.Kind)
	}
	obj := newObj()
	if err := decodeStrict(doc, obj); err != nil {
		return fmt.Errorf("%s: %w", tm.Kind, err)
	}
	what := tm.Kind + " " + obj.GetName()
	if err := checkMeta(obj); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	rep.Kinds[tm.Kind]++
	var err error
	switch o := obj.(type) {
	case *appsv1.Deployment:
		err = checkDeployment(o)
	case *monitoringv1.PrometheusRule:
		err = checkRules(o, opts.RulesFile)
	case *corev1.ConfigMap:
		if c, ok := o.Data["config.yml"]; ok {
			rep.Config = []byte(c)
		}
		err = checkDashboards(o, opts.DashboardsDir)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// decodeStrict decodes YAML as the API server decodes JSON: field names
// case-sensitive, unknown and duplicate fields refused.
func decodeStrict(doc []byte, v any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strict, err := k8sjson.UnmarshalStrict(j, v, k8sjson.DisallowDuplicateFields, k8sjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// checkMeta: names are DNS subdomains, labels and annotations valid.
func checkMeta(o object) error {
	var errs []string
	errs = append(errs, validation.IsDNS1123Subdomain(o.GetName())...)
	if o.GetNamespace() != "" {
		errs = append(errs, validation.IsDNS1123Label(o.GetNamespace())...)
	}
	for k, v := range o.GetLabels() {
		errs = append(errs, validation.IsQualifiedName(k)...)
		errs = append(errs, validation.IsValidLabelValue(v)...)
	}
	for k := range o.GetAnnotations() {
		errs = append(errs, validation.IsQualifiedName(k)...)
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// checkDeployment: what the chart promises about the pods.
func checkDeployment(d *appsv1.Deployment) error {
	sel := d.Spec.Selector.MatchLabels
	for k, v := range sel {
		if d.Spec.Template.Labels[k] != v {
			return fmt.Errorf("selector %s=%s does not match the pod labels", k, v)
		}
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		sc := c.SecurityContext
		switch {
		case sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			return fmt.Errorf("container %s: root filesystem not read-only", c.Name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			return fmt.Errorf("container %s: privilege escalation allowed", c.Name)
		case c.LivenessProbe == nil || c.ReadinessProbe == nil:
			return fmt.Errorf("container %s: no liveness or readiness probe", c.Name)
		case c.Resources.Requests.Memory().IsZero():
			return fmt.Errorf("container %s: no memory request", c.Name)
		}
	}
	if psc := d.Spec.Template.Spec.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		return errors.New("pods may run as root")
	}
	return nil
}

// checkRules: the PrometheusRule holds exactly the repository's groups.
func checkRules(r *monitoringv1.PrometheusRule, path string) error {
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var want monitoringv1.PrometheusRuleSpec
	if err := decodeStrict(b, &want); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(want.Groups) == 0 {
		return fmt.Errorf("%s has no groups", path)
	}
	if !reflect.DeepEqual(r.Spec, want) {
		return fmt.Errorf("its groups differ from %s", path)
	}
	return nil
}

// checkDashboards: a dashboard ConfigMap holds the repository's JSON.
func checkDashboards(cm *corev1.ConfigMap, dir string) error {
	if dir == "" {
		return nil
	}
	for key, v := range cm.Data {
		if !strings.HasSuffix(key, ".json") {
			continue
		}
		want, err := os.ReadFile(filepath.Join(dir, key))
		if err != nil {
			return fmt.Errorf("dashboard %s: %w", key, err)
		}
		if !bytes.Equal(bytes.TrimSpace(want), bytes.TrimSpace([]byte(v))) {
			return fmt.Errorf("dashboard %s differs from %s", key, filepath.Join(dir, key))
		}
	}
	return nil
}

// splitDocuments splits a YAML stream at "---" lines and drops empty
// documents (comments only).
func splitDocuments(stream []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(append([]byte("\n"), stream...), []byte("\n---")) {
		if i := bytes.IndexByte(d, '\n'); i >= 0 {
			d = d[i+1:] // the rest of the separator line
		}
		empty := true
		for _, l := range bytes.Split(d, []byte("\n")) {
			if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
				empty = false
				break
			}
		}
		if !empty {
			docs = append(docs, d)
		}
	}
	return docs
}
