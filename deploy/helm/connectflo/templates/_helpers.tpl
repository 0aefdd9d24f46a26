{{/*
What each service is, fixed by its code (not values): module for `python -m`, env prefix and
port (deploy/services.tsv, checked by deploy/helm/tests/test_chart.py), whether it opens
sealed credentials (the KEKs) and reads the providers Secret.
*/}}
{{- define "connectflo.components" -}}
trigger-gateway: {module: trigger_gateway, prefix: GATEWAY, port: 8080, keks: true, providers: true}
executor: {module: executor, prefix: EXECUTOR, port: 8081, keks: false, providers: false}
scheduler: {module: scheduler, prefix: SCHEDULER, port: 8082, keks: false, providers: false}
integrations: {module: integrations, prefix: INTEGRATIONS, port: 8083, keks: true, providers: true}
notifier: {module: notifier, prefix: NOTIFIER, port: 8084, keks: true, providers: true}
{{- end -}}

{{/* The executor consumes this topic by partition: its replicas are bounded by its count. */}}
{{- define "connectflo.commandsTopic" -}}connectflo.executions.commands.v1{{- end -}}

{{- define "connectflo.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "connectflo.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "connectflo.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* Labels of every object; "component" is the service (or "topics"). */}}
{{- define "connectflo.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: connectflo
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{ include "connectflo.selectorLabels" . }}
{{- end -}}

{{- define "connectflo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "connectflo.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The URL one service reaches another at, inside the cluster. */}}
{{- define "connectflo.serviceUrl" -}}
{{- $components := include "connectflo.components" .root | fromYaml -}}
{{- printf "http://%s-%s:%v" (include "connectflo.fullname" .root) .component (get (get $components .component) "port") -}}
{{- end -}}

{{/* MONGO_URI: from the Secret when one is named, else the plain URI (which must hold no
password). */}}
{{- define "connectflo.mongoUri" -}}
- name: MONGO_URI
{{- if .Values.mongo.existingSecret }}
  valueFrom:
    secretKeyRef:
      name: {{ .Values.mongo.existingSecret }}
      key: {{ .Values.mongo.uriKey }}
{{- else }}
{{- if regexMatch "^[a-z+]+://[^/@]*:[^/@]*@" .Values.mongo.uri }}
{{- fail "mongo.uri holds a password: put the URI in a Secret and name it in mongo.existingSecret" }}
{{- end }}
  value: {{ .Values.mongo.uri | quote }}
{{- end }}
{{- end -}}

{{/* Values' env entries are plain settings: a secret-looking name is refused. */}}
{{- define "connectflo.plainEnv" -}}
{{- range $name, $value := .env }}
{{- if regexMatch "(?i)(KEY|TOKEN|SECRET|PASSWORD|KEK)" $name }}
{{- fail (printf "services.%s.env.%s looks secret: give it from a Secret (secrets.providers.existingSecret), not as a value" $.component $name) }}
{{- end }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* The executor's replicas may not exceed the commands topic's partitions. */}}
{{- define "connectflo.checkExecutorReplicas" -}}
{{- $topic := include "connectflo.commandsTopic" . -}}
{{- $partitions := 0 -}}
{{- range .Values.kafka.topics }}
{{- if eq .name $topic }}{{ $partitions = int .partitions }}{{ end }}
{{- end }}
{{- if eq $partitions 0 }}
{{- fail (printf "kafka.topics has no %s: the executor consumes it" $topic) }}
{{- end }}
{{- $replicas := int (index .Values.services "executor").replicas -}}
{{- if gt $replicas $partitions }}
{{- fail (printf "services.executor.replicas is %d, more than the %d partitions of %s: a replica beyond them gets no partition and idles (raise the topic's partitions in kafka.topics first)" $replicas $partitions $topic) }}
{{- end }}
{{- end -}}
