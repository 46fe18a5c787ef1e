#!/usr/bin/env bash
# Checks the Helm chart: helm lint --strict and helm template with the default
# values and with every option on (ci/all-on-values.yaml); the rendered
# manifests checked strictly against the Kubernetes and Prometheus Operator
# API types, the PrometheusRule and dashboards against the repository's files
# (charts/validate, a Go module of its own); the rendered exporter config
# checked by the exporter itself.
# Usage: HELM=.build/bin/helm-v3.22.0 KUBE_VERSION=1.31.0 EXPORTER=./bender_cc_exporter scripts/chart-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${HELM:?path to helm}" "${KUBE_VERSION:=1.31.0}" "${EXPORTER:=./bender_cc_exporter}" "${GO:=go}"
chart=charts/bender-cc-exporter
out=.build/chart
mkdir -p "$out"
declare -A kinds=(
  [default]=ConfigMap=1,Deployment=1,Service=1,ServiceAccount=1
  [all-on]=ConfigMap=3,Deployment=1,Probe=2,PrometheusRule=1,ScrapeConfig=1,Service=1,ServiceAccount=1,ServiceMonitor=1
)
(cd charts/validate && "$GO" test -count=1 ./...)
for v in default all-on; do
  values=()
  [ "$v" = all-on ] && values=(-f "$chart/ci/all-on-values.yaml")
  # Helm says on stderr that it follows the chart's links to dashboards/ and alerts/.
  if ! "$HELM" lint --strict --kube-version "$KUBE_VERSION" "$chart" "${values[@]}" >"$out/$v-lint.log" 2>&1; then
    cat "$out/$v-lint.log"; exit 1
  fi
  grep -v 'found symbolic link' "$out/$v-lint.log" | grep -q '1 chart(s) linted, 0 chart(s) failed'
  echo "ok   helm lint --strict ($v values)"
  if ! "$HELM" template bender-cc-exporter "$chart" --namespace monitoring --kube-version "$KUBE_VERSION" "${values[@]}" \
    >"$out/$v.yaml" 2>"$out/$v-template.log"; then
    cat "$out/$v-template.log"; exit 1
  fi
  (cd charts/validate && "$GO" run . -rules ../../alerts/bender_cc.rules.yml -dashboards ../../dashboards \
    -want-kinds "${kinds[$v]}" -config-out "../../$out/$v-config.yml" "../../$out/$v.yaml")
  # The passwords come from a Secret at run time: check the structure here.
  grep -q 'msg="Configuration is valid' <<<"$("$EXPORTER" --config.file="$out/$v-config.yml" --config.check --no-config.check-secrets 2>&1)"
  echo "ok   helm template ($v values): strict API types, rules, dashboards, config.yml"
done
