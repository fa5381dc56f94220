{{/* Names: <release>-telemetry-pipeline, or the release name when it already contains the chart name. */}}
{{- define "tp.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tp.labels" -}}
app.kubernetes.io/part-of: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* image: call with (dict "image" .Values.<component>.image "global" .Values.global) */}}
{{- define "tp.image" -}}
{{- $tag := .image.tag | default .global.imageTag -}}
{{- if .image.registry -}}
{{- printf "%s/%s:%s" .image.registry .image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* NATS client URLs of every server of the StatefulSet, comma-separated (NATS_URL). */}}
{{- define "tp.natsUrl" -}}
{{- $full := include "tp.fullname" . -}}
{{- $urls := list -}}
{{- range $i := until (int .Values.nats.replicas) -}}
{{- $urls = append $urls (printf "nats://%s-nats-%d.%s-nats:%v" $full $i $full $.Values.nats.ports.client) -}}
{{- end -}}
{{- join "," $urls -}}
{{- end -}}

{{/* Cluster route URLs of every server (nats-server --routes). */}}
{{- define "tp.natsRoutes" -}}
{{- $full := include "tp.fullname" . -}}
{{- $urls := list -}}
{{- range $i := until (int .Values.nats.replicas) -}}
{{- $urls = append $urls (printf "nats://%s-nats-%d.%s-nats:%v" $full $i $full $.Values.nats.ports.cluster) -}}
{{- end -}}
{{- join "," $urls -}}
{{- end -}}
