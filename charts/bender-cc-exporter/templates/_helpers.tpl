{{/* Name of the chart, or nameOverride. */}}
{{- define "bender-cc-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified name: release and chart, unless one contains the other. */}}
{{- define "bender-cc-exporter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "bender-cc-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bender-cc-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "bender-cc-exporter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "bender-cc-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: bender-cc-exporter
{{- end }}

{{/* Labels of the Prometheus Operator resources: ours and the selector's. */}}
{{- define "bender-cc-exporter.operatorLabels" -}}
{{ include "bender-cc-exporter.labels" . }}
{{- with .Values.prometheusOperator.labels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "bender-cc-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "bender-cc-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The exporter's address inside the cluster, for /probe and /sd. */}}
{{- define "bender-cc-exporter.address" -}}
{{ include "bender-cc-exporter.fullname" . }}.{{ .Release.Namespace }}.svc:{{ .Values.service.port }}
{{- end }}

{{/* The exporter's configuration file. */}}
{{- define "bender-cc-exporter.config" -}}
# Rendered by the bender-cc-exporter chart from its values (config:).
{{ toYaml .Values.config }}
{{- end }}
