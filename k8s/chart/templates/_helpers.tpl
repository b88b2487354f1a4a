{{/* Names, labels and derived settings shared by the templates. */}}

{{- define "binrelay.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The StatefulSet, the headless Service and most objects carry this name.
It is kept to 50 characters: the pods append "-<ordinal>" and the
StatefulSet controller adds a revision hash label of its own.
*/}}
{{- define "binrelay.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "binrelay.selectorLabels" -}}
app.kubernetes.io/name: {{ include "binrelay.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "binrelay.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "binrelay.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "binrelay.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "binrelay.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* One pod unless parallel compilation is on. */}}
{{- define "binrelay.replicas" -}}
{{- if .Values.parallelCompilation.enabled }}
{{- $n := int .Values.parallelCompilation.replicas }}
{{- if lt $n 1 }}
{{- fail "parallelCompilation.replicas must be at least 1" }}
{{- end }}
{{- $n }}
{{- else }}
{{- 1 }}
{{- end }}
{{- end }}

{{- define "binrelay.scheme" -}}
{{- if .Values.tls.existingSecret }}https{{ else }}http{{ end }}
{{- end }}

{{/*
Base URL of one pod's sidecar through the headless Service; the argument
is the ordinal, or the literal "{k}" for --worker-url-template.
*/}}
{{- define "binrelay.podURL" -}}
{{- $ctx := index . 0 }}
{{- $ordinal := index . 1 }}
{{- $name := include "binrelay.fullname" $ctx }}
{{- printf "%s://%s-%v.%s.%s.svc.%s:%v" (include "binrelay.scheme" $ctx) $name $ordinal $name $ctx.Release.Namespace $ctx.Values.clusterDomain $ctx.Values.sidecar.port }}
{{- end }}

{{- define "binrelay.tokenSecretName" -}}
{{- default (printf "%s-token" (include "binrelay.fullname" .)) .Values.auth.existingSecret }}
{{- end }}

{{- define "binrelay.tokenSecretKey" -}}
{{- if .Values.auth.existingSecret }}
{{- .Values.auth.existingSecretKey }}
{{- else }}
{{- "token" }}
{{- end }}
{{- end }}

{{- define "binrelay.pipelinesConfigMapName" -}}
{{- default (printf "%s-pipelines" (include "binrelay.fullname" .)) .Values.pipelines.configMap.existingName }}
{{- end }}

{{/*
A ConfigMap key may not hold "/", so a path in pipelines.configMap.files
is stored under the path with each "/" spelled "__" and mapped back to
its place by the volume's items.
*/}}
{{- define "binrelay.configMapKey" -}}
{{- if or (hasPrefix "/" .) (has ".." (splitList "/" .)) }}
{{- fail (printf "pipelines.configMap.files: %q must be a relative path inside the pipelines tree" .) }}
{{- end }}
{{- $key := replace "/" "__" . }}
{{- if not (regexMatch "^[-._a-zA-Z0-9]+$" $key) }}
{{- fail (printf "pipelines.configMap.files: %q holds a character a ConfigMap key cannot" .) }}
{{- end }}
{{- $key }}
{{- end }}

{{/* Directory the builder and the leader read the pipelines from. */}}
{{- define "binrelay.pipelinesDir" -}}
{{- $p := .Values.pipelines }}
{{- if eq $p.source "gitSync" }}
{{- /* git-sync swaps the "current" symlink to each new checkout. */}}
{{- trimSuffix "/" (printf "/pipelines/current/%s" (trimPrefix "/" $p.gitSync.path)) }}
{{- else if eq $p.source "existingClaim" }}
{{- trimSuffix "/" (printf "/pipelines/%s" (trimPrefix "/" $p.existingClaim.path)) }}
{{- else }}
{{- "/pipelines" }}
{{- end }}
{{- end }}

{{/*
Arguments builder and sidecar share: the worker count comes from this
StatefulSet's spec.replicas, and a change to it restarts the pods.
*/}}
{{- define "binrelay.commonArgs" -}}
- --workers
- k8s
- --statefulset
- {{ include "binrelay.fullname" . | quote }}
- --k8s-check-interval
- {{ .Values.k8sCheckIntervalSeconds | quote }}
- --log-level
- {{ .Values.logLevel | quote }}
{{- end }}

{{- define "binrelay.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
