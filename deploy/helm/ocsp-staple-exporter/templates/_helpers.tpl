{{/* The release's resource name: the release name, with the chart's unless it holds it. */}}
{{- define "ose.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels that select the release's pods. */}}
{{- define "ose.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of every resource. */}}
{{- define "ose.labels" -}}
{{ include "ose.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* http or https, as the web config serves. */}}
{{- define "ose.scheme" -}}
{{- if .Values.web.tls -}}https{{- else -}}http{{- end -}}
{{- end -}}

{{/* (list N TEXT): TEXT on new lines indented by N, blank lines left empty. */}}
{{- define "ose.block" -}}
{{- regexReplaceAll "(?m)^[ ]+$" (nindent (index . 0) (index . 1)) "" -}}
{{- end -}}

{{/* The ServiceAccount the pods run as. */}}
{{- define "ose.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ose.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}
