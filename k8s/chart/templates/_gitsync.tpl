{{/*
The git-sync container, as an init container (one checkout, then exit)
or beside the daemons (a fresh checkout every period).  git-sync checks
out into a new directory and then swaps the "current" symlink, so the
builder never sees a half-updated tree.  Argument: (list $ oneTime).
*/}}
{{- define "binrelay.gitSyncContainer" -}}
{{- $ := index . 0 }}
{{- $oneTime := index . 1 }}
{{- $g := $.Values.pipelines.gitSync -}}
image: {{ $g.image }}
imagePullPolicy: {{ $g.imagePullPolicy }}
env:
  - name: GITSYNC_REPO
    value: {{ required "pipelines.gitSync.repo is required when pipelines.source is gitSync" $g.repo | quote }}
  - name: GITSYNC_REF
    value: {{ $g.ref | quote }}
  - name: GITSYNC_ROOT
    value: /pipelines
  - name: GITSYNC_LINK
    value: current
  - name: GITSYNC_PERIOD
    value: {{ $g.period | quote }}
  - name: GITSYNC_DEPTH
    value: {{ $g.depth | int64 | quote }}
  - name: GITSYNC_ONE_TIME
    value: {{ $oneTime | quote }}
  # git-sync writes a private git config to the temporary directory.
  - name: HOME
    value: /tmp
  {{- with $g.existingSecret }}
  - name: GITSYNC_USERNAME
    valueFrom:
      secretKeyRef:
        name: {{ . }}
        key: username
  # Read from a file, which git-sync re-reads before every sync, so a
  # rotated token is picked up without a restart.
  - name: GITSYNC_PASSWORD_FILE
    value: /etc/git-secret/password
  {{- end }}
volumeMounts:
  - name: pipelines
    mountPath: /pipelines
  - name: git-sync-tmp
    mountPath: /tmp
  {{- if $g.existingSecret }}
  - name: git-secret
    mountPath: /etc/git-secret
    readOnly: true
  {{- end }}
securityContext:
  {{- toYaml $.Values.containerSecurityContext | nindent 2 }}
resources:
  {{- toYaml $g.resources | nindent 2 }}
{{- end }}
