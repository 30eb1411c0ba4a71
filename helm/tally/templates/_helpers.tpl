{{/* Names, labels and the shared Deployment of the Tally chart. */}}

{{- define "tally.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tally.component" -}}
{{- printf "%s-%s" (include "tally.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tally.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{ include "tally.selectorLabels" . }}
{{- range $k, $v := .root.Values.commonLabels }}
{{ $k }}: {{ $v | quote }}
{{- end }}
{{- end -}}

{{- define "tally.selectorLabels" -}}
app.kubernetes.io/name: tally
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "tally.image" -}}
{{- printf "%s/%s:%s" .root.Values.image.repository .name (default .root.Chart.AppVersion .root.Values.image.tag) -}}
{{- end -}}

{{/* The Secret of a credential: the existing one, or the chart-created one. */}}
{{- define "tally.secretName" -}}
{{- if .ref.existingSecret -}}{{ .ref.existingSecret }}{{- else -}}{{ include "tally.fullname" .root }}-credentials{{- end -}}
{{- end -}}

{{- define "tally.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ include "tally.secretName" . }}
      key: {{ if .ref.existingSecret }}{{ .ref.existingSecretKey }}{{ else }}{{ .key }}{{ end }}
{{- end -}}

{{- define "tally.requireCredential" -}}
{{- if and (not .ref.existingSecret) (lt (len (default "" .ref.value)) 16) -}}
{{- fail (printf "%s: set %s.existingSecret, or %s.value (at least 16 characters) for a trial" .what .what .what) -}}
{{- end -}}
{{- end -}}

{{/* Kafka settings every service reads. */}}
{{- define "tally.kafkaEnv" -}}
{{- $k := .root.Values.kafka -}}
{{- if not $k.bootstrapServers }}{{ fail "kafka.bootstrapServers is required (e.g. my-cluster-kafka-bootstrap:9092)" }}{{ end }}
- name: TALLY_KAFKA_BOOTSTRAP
  value: {{ $k.bootstrapServers | quote }}
- name: TALLY_KAFKA_SECURITY_PROTOCOL
  value: {{ $k.securityProtocol | quote }}
- name: TALLY_KAFKA_TOPIC_PARTITIONS
  value: {{ $k.topics.partitions | quote }}
- name: TALLY_KAFKA_REPLICATION_FACTOR
  value: {{ $k.topics.replicationFactor | quote }}
{{- if $k.sasl.mechanism }}
- name: TALLY_KAFKA_SASL_MECHANISM
  value: {{ $k.sasl.mechanism | quote }}
- name: TALLY_KAFKA_SASL_JAAS_CONFIG
  valueFrom:
    secretKeyRef:
      name: {{ required "kafka.sasl.existingSecret is required with a SASL mechanism" $k.sasl.existingSecret }}
      key: {{ $k.sasl.jaasConfigKey }}
{{- end }}
{{- if $k.tls.truststoreSecret }}
- name: TALLY_KAFKA_SSL_TRUSTSTORE_LOCATION
  value: /etc/tally/kafka-ca/{{ $k.tls.truststoreKey }}
- name: TALLY_KAFKA_SSL_TRUSTSTORE_TYPE
  value: {{ $k.tls.truststoreType | quote }}
{{- end }}
{{- end -}}

{{/* Database settings of one service (.name: identity, wallet or metering). */}}
{{- define "tally.dbEnv" -}}
{{- $pg := .root.Values.postgresql -}}
{{- $own := index $pg.services .name -}}
{{- $url := default $pg.url $own.url -}}
{{- if not $url }}{{ fail (printf "postgresql.url (or postgresql.services.%s.url) is required: the JDBC URL of the database" .name) }}{{ end }}
{{- if and (not $pg.existingSecret) (not $pg.password) }}{{ fail "postgresql.existingSecret (or postgresql.password for a trial) is required" }}{{ end }}
- name: TALLY_DB_URL
  value: {{ $url | quote }}
- name: TALLY_DB_USER
  value: {{ default $pg.user $own.user | quote }}
- name: TALLY_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ if $pg.existingSecret }}{{ $pg.existingSecret }}{{ else }}{{ include "tally.fullname" .root }}-credentials{{ end }}
      key: {{ if $pg.existingSecret }}{{ $pg.existingSecretPasswordKey }}{{ else }}db-password{{ end }}
- name: TALLY_DB_SCHEMA
  value: {{ .name | quote }}
- name: TALLY_DB_POOL_MAX
  value: {{ $pg.poolMax | quote }}
- name: TALLY_DB_STATEMENT_TIMEOUT
  value: {{ $pg.statementTimeout | quote }}
{{- end -}}

{{/* Internal calls resolve every replica through the headless Service and spread by round robin. */}}
{{- define "tally.serviceTarget" -}}
dns:///{{ include "tally.component" (dict "root" .root "name" .name) }}-headless:50051
{{- end -}}

{{/* The Deployment of one component; .env holds its own variables (YAML list). */}}
{{- define "tally.deployment" -}}
{{- $root := .root -}}
{{- $v := index $root.Values .name -}}
{{- $d := $root.Values.podDefaults -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "tally.component" . }}
  labels:
    {{- include "tally.labels" . | nindent 4 }}
spec:
  {{- if not (and (eq .name "gateway") $v.autoscaling.enabled) }}
  replicas: {{ $v.replicas }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "tally.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "tally.selectorLabels" . | nindent 8 }}
        {{- with $d.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/credentials: {{ include (print $root.Template.BasePath "/secrets.yaml") $root | sha256sum }}
        {{- with $d.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- with $root.Values.image.pullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      securityContext:
        {{- toYaml $d.podSecurityContext | nindent 8 }}
      {{- with $d.serviceAccountName }}
      serviceAccountName: {{ . }}
      {{- end }}
      automountServiceAccountToken: false
      {{- if $d.topologySpread }}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "tally.selectorLabels" . | nindent 14 }}
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "tally.selectorLabels" . | nindent 14 }}
      {{- end }}
      {{- with $d.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $d.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $d.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- /* preStop lets endpoints drop the pod before it drains (TALLY_SHUTDOWN_DRAIN 20 s); the grace covers
             both with room to spare. */}}
      terminationGracePeriodSeconds: {{ add $d.preStopSleepSeconds 20 10 }}
      containers:
        - name: {{ .name }}
          image: {{ include "tally.image" . }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          ports:
            - name: grpc
              containerPort: 50051
              protocol: TCP
            - name: metrics
              containerPort: 9464
              protocol: TCP
          env:
            - name: JAVA_TOOL_OPTIONS
              value: {{ $d.javaOptions | quote }}
            - name: TALLY_GRPC_PORT
              value: "50051"
            - name: TALLY_METRICS_PORT
              value: "9464"
            - name: TALLY_BIND_ADDRESS
              value: "0.0.0.0"
            - name: TALLY_SHUTDOWN_DRAIN
              value: "20s"
            - name: TALLY_LOG_FORMAT
              value: {{ $root.Values.logFormat | quote }}
            {{- include "tally.kafkaEnv" . | nindent 12 }}
            {{- .env | nindent 12 }}
            {{- with $d.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          lifecycle:
            preStop:
              sleep:
                seconds: {{ $d.preStopSleepSeconds }}
          startupProbe:
            grpc:
              port: 50051
            periodSeconds: 5
            failureThreshold: 60
          readinessProbe:
            grpc:
              port: 50051
            periodSeconds: 5
          livenessProbe:
            grpc:
              port: 50051
            periodSeconds: 10
            failureThreshold: 6
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- toYaml $d.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if $root.Values.kafka.tls.truststoreSecret }}
            - name: kafka-ca
              mountPath: /etc/tally/kafka-ca
              readOnly: true
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: {}
        {{- if $root.Values.kafka.tls.truststoreSecret }}
        - name: kafka-ca
          secret:
            secretName: {{ $root.Values.kafka.tls.truststoreSecret }}
        {{- end }}
{{- end -}}

{{- define "tally.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "tally.component" . }}
  labels:
    {{- include "tally.labels" . | nindent 4 }}
spec:
  type: {{ .type | default "ClusterIP" }}
  selector:
    {{- include "tally.selectorLabels" . | nindent 4 }}
  ports:
    - name: grpc
      port: {{ .port | default 50051 }}
      targetPort: grpc
      protocol: TCP
      appProtocol: grpc
    - name: metrics
      port: 9464
      targetPort: metrics
      protocol: TCP
{{- end -}}

{{/* A headless twin of each internal Service: clients resolve every pod and balance calls themselves (a
     ClusterIP pins a gRPC connection to one pod). */}}
{{- define "tally.headlessService" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "tally.component" . }}-headless
  labels:
    {{- include "tally.labels" . | nindent 4 }}
spec:
  clusterIP: None
  publishNotReadyAddresses: false
  selector:
    {{- include "tally.selectorLabels" . | nindent 4 }}
  ports:
    - name: grpc
      port: 50051
      targetPort: grpc
      protocol: TCP
      appProtocol: grpc
{{- end -}}

{{- define "tally.pdb" -}}
{{- $v := index .root.Values .name -}}
{{- if gt (int $v.replicas) 1 }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "tally.component" . }}
  labels:
    {{- include "tally.labels" . | nindent 4 }}
spec:
  minAvailable: 1
  selector:
    matchLabels:
      {{- include "tally.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}
