{{/* ------------------------------------------------------------------ names */}}

{{- define "ticketing.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ticketing.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "ticketing.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The object name of one component: <fullname>-<component>, at most 63 characters. */}}
{{- define "ticketing.componentFullname" -}}
{{- printf "%s-%s" (include "ticketing.fullname" .root) .spec.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ticketing.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ticketing.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* ------------------------------------------------------------------ labels */}}

{{- define "ticketing.labels" -}}
helm.sh/chart: {{ include "ticketing.chart" . }}
app.kubernetes.io/name: {{ include "ticketing.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: ticketing
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component; call with (dict "root" $ "spec" $spec). */}}
{{- define "ticketing.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ticketing.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .spec.name }}
{{- end -}}

{{- define "ticketing.componentLabels" -}}
{{ include "ticketing.labels" .root }}
app.kubernetes.io/component: {{ .spec.name }}
{{- end -}}

{{/* ------------------------------------------------------------------ image */}}

{{- define "ticketing.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* ------------------------------------------------------------------ components

The wiring of every process: which module it runs, which port it serves, whether it gets a
Service and an ingress route, which backends and secrets it needs, and which peers may call it
(allowFrom: "ingressController" or another component's key; none for expiration and its worker). This is the contract of
the code, so it lives here and not in values.yaml (values only tune replicas, resources, ...).
*/}}
{{- define "ticketing.componentSpecs" -}}
auth:
  key: auth
  name: auth
  module: services.auth
  port: 3000
  service: true
  ingressPath: /api/users
  allowFrom: [ingressController, client]
  mongo: true
  amqp: true
  amqpUser: auth
  jwtPrivate: true
  jwtPublic: true
  cookies: true
tickets:
  key: tickets
  name: tickets
  module: services.tickets
  port: 3000
  service: true
  ingressPath: /api/tickets
  allowFrom: [ingressController, client]
  mongo: true
  amqp: true
  amqpUser: tickets
  jwtPublic: true
  cookies: true
orders:
  key: orders
  name: orders
  module: services.orders
  port: 3000
  service: true
  ingressPath: /api/orders
  allowFrom: [ingressController, client]
  mongo: true
  amqp: true
  amqpUser: orders
  jwtPublic: true
  cookies: true
  orderExpiration: true
payments:
  key: payments
  name: payments
  module: services.payments
  port: 3000
  service: true
  ingressPath: /api/payments
  allowFrom: [ingressController, client, stripeEmulator]
  mongo: true
  amqp: true
  amqpUser: payments
  jwtPublic: true
  cookies: true
  stripe: true
expiration:
  key: expiration
  name: expiration
  module: services.expiration
  port: 3000
  amqp: true
  amqpUser: expiration
  redis: true
expirationWorker:
  key: expirationWorker
  name: expiration-worker
  module: services.expiration.worker
  port: 3000
  amqp: true
  amqpUser: expiration
  redis: true
client:
  key: client
  name: client
  module: services.client
  port: 3000
  service: true
  ingressPath: /
  allowFrom: [ingressController]
  jwtPublic: true
  cookies: true
  clientApis: true
stripeEmulator:
  key: stripeEmulator
  name: stripe-emulator
  module: stripe_emulator
  port: 12111
  service: true
  stripeWebhook: true
  # One in-memory store of PaymentIntents: never two pods, not even during a rollout.
  singleton: true
  # payments calls its API; the ingress controller brings browsers to its 3-D Secure
  # challenge pages (the Ingress routes /_emulator/3ds/ only).
  allowFrom: [payments, ingressController]
  # Not run by shared.runner: no MANAGEMENT_PORT, its probes are on its own port (which only
  # payments reaches; it has no metrics).
  probesOnHttp: true
{{- end -}}

{{/* The specs of the components this release runs, as a dict (the emulator only with
stripe.emulator.enabled). */}}
{{- define "ticketing.enabledComponents" -}}
{{- $all := fromYaml (include "ticketing.componentSpecs" .) -}}
{{- if not (include "ticketing.stripeEmulatorEnabled" .) -}}
{{- $_ := unset $all "stripeEmulator" -}}
{{- end -}}
{{- toYaml $all -}}
{{- end -}}

{{/* Per-component settings: .Values.defaults overridden by .Values.components.<key>. */}}
{{- define "ticketing.componentValues" -}}
{{- $overrides := get .root.Values.components .spec.key | default dict -}}
{{- toYaml (mustMergeOverwrite (deepCopy .root.Values.defaults) (deepCopy $overrides)) -}}
{{- end -}}

{{/* ------------------------------------------------------------------ secrets and config */}}

{{- define "ticketing.configMapName" -}}
{{- printf "%s-config" (include "ticketing.fullname" .) -}}
{{- end -}}

{{- define "ticketing.jwtSecretName" -}}
{{- default (printf "%s-jwt" (include "ticketing.fullname" .)) .Values.jwt.existingSecret -}}
{{- end -}}

{{/* "true" when the chart itself renders the JWT Secret. */}}
{{- define "ticketing.jwtSecretCreate" -}}
{{- if and (not .Values.jwt.existingSecret) .Values.jwt.privateKey .Values.jwt.publicKey -}}true{{- end -}}
{{- end -}}

{{- define "ticketing.stripeSecretName" -}}
{{- default (printf "%s-stripe" (include "ticketing.fullname" .)) .Values.stripe.existingSecret -}}
{{- end -}}

{{- define "ticketing.stripeSecretCreate" -}}
{{- if and (not .Values.stripe.existingSecret) (or .Values.stripe.secretKey .Values.stripe.webhookSecret) -}}true{{- end -}}
{{- end -}}

{{/* "true" when payments talks to the in-cluster Stripe emulator: only when chosen with
stripe.emulator.enabled, never because a key is missing (its webhook secret is public, so
anyone could mark orders paid). No key and no emulator, or both, fail the render. */}}
{{- define "ticketing.stripeEmulatorEnabled" -}}
{{- $key := or .Values.stripe.secretKey .Values.stripe.existingSecret -}}
{{- $emulator := (.Values.stripe.emulator | default dict).enabled -}}
{{- if and $emulator $key -}}
{{- fail "stripe.emulator.enabled=true and a Stripe key (stripe.secretKey or stripe.existingSecret) exclude each other: payments would use the emulator and ignore the key. Choose one." -}}
{{- else if not (or $emulator $key) -}}
{{- fail "no Stripe configured: set stripe.secretKey (or stripe.existingSecret holding STRIPE_SECRET_KEY) for real Stripe, or stripe.emulator.enabled=true for the offline emulator (development clusters only: its webhook secret is public, anyone could mark orders paid)." -}}
{{- else if $emulator -}}true{{- end -}}
{{- end -}}

{{- define "ticketing.backendsSecretName" -}}
{{- default (printf "%s-backends" (include "ticketing.fullname" .)) .Values.backends.existingSecret -}}
{{- end -}}

{{/* "true" when at least one backend URL comes from the external settings (not bundled). */}}
{{- define "ticketing.externalBackendsUsed" -}}
{{- if or (not .Values.mongodb.enabled) (not .Values.rabbitmq.enabled) (not .Values.redis.enabled) -}}true{{- end -}}
{{- end -}}

{{- define "ticketing.backendsSecretCreate" -}}
{{- if and (not .Values.backends.existingSecret) (include "ticketing.externalBackendsUsed" .) -}}true{{- end -}}
{{- end -}}

{{/* ------------------------------------------------------------------ environment

Backend URLs. External (default): from the backends Secret. Bundled (umbrella chart bundled/,
`mongodb.enabled` etc.): assembled from the community charts' Services and generated passwords
with Kubernetes' $(VAR) expansion, so no password is ever written into a manifest.
*/}}
{{- define "ticketing.env.mongo" -}}
{{- $spec := .spec -}}
{{- with .root }}
{{- if .Values.mongodb.enabled }}
{{- $host := default (printf "%s-mongodb-headless" .Release.Name) .Values.mongodb.host }}
{{- $secret := tpl (default (printf "%s-mongodb" .Release.Name) .Values.mongodb.existingSecret) . }}
{{- if .Values.mongodb.perServiceUsers }}
{{- /* Its own user, with readWrite on its own database only (the bundled chart creates one per
service, named after it, in that database; generated passwords are alphanumeric). */}}
- name: MONGODB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ printf "mongodb-password-%s" $spec.key }}
- name: MONGO_URL
  value: {{ printf "mongodb://%s:$(MONGODB_PASSWORD)@%s:27017/%s?replicaSet=%s&authSource=%s" $spec.key $host $spec.key .Values.mongodb.replicaSetName $spec.key | quote }}
{{- else }}
- name: MONGODB_ROOT_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: mongodb-root-password
- name: MONGO_URL
  value: {{ printf "mongodb://%s:$(MONGODB_ROOT_PASSWORD)@%s:27017/?replicaSet=%s&authSource=admin" .Values.mongodb.rootUser $host .Values.mongodb.replicaSetName | quote }}
{{- end }}
{{- else }}
- name: MONGO_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "ticketing.backendsSecretName" . }}
      key: MONGO_URL
{{- end }}
{{- end }}
{{- end -}}

{{/* AMQP_URL of one component; call with (dict "root" $ "spec" $spec). With
backends.amqpPerServiceUsers each service signs in as its own RabbitMQ user: its URL is the
backends Secret's AMQP_URL_<SERVICE> (both expiration processes share AMQP_URL_EXPIRATION). */}}
{{- define "ticketing.env.amqp" -}}
{{- $spec := .spec -}}
{{- with .root }}
{{- if .Values.rabbitmq.enabled }}
{{- $host := default (printf "%s-rabbitmq" .Release.Name) .Values.rabbitmq.host }}
{{- $secret := tpl (default (printf "%s-rabbitmq" .Release.Name) .Values.rabbitmq.existingSecret) . }}
{{- /* perServiceUsers: its own user (permissions.py's rights, loaded by the bundled broker). */}}
{{- $user := ternary $spec.amqpUser .Values.rabbitmq.username (.Values.rabbitmq.perServiceUsers | default false) }}
- name: RABBITMQ_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ if .Values.rabbitmq.perServiceUsers }}{{ printf "rabbitmq-password-%s" $spec.amqpUser }}{{ else }}rabbitmq-password{{ end }}
- name: AMQP_URL
  value: {{ printf "amqp://%s:$(RABBITMQ_PASSWORD)@%s:5672/" $user $host | quote }}
{{- else }}
- name: AMQP_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "ticketing.backendsSecretName" . }}
      key: {{ if .Values.backends.amqpPerServiceUsers }}{{ printf "AMQP_URL_%s" (upper $spec.amqpUser) }}{{ else }}AMQP_URL{{ end }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "ticketing.env.redis" -}}
{{- if .Values.redis.enabled }}
{{- $host := default (printf "%s-redis-master" .Release.Name) .Values.redis.host }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ default (printf "%s-redis" .Release.Name) .Values.redis.existingSecret }}
      key: redis-password
- name: REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s:6379/0" $host | quote }}
{{- else }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "ticketing.backendsSecretName" . }}
      key: REDIS_URL
{{- end }}
{{- end -}}

{{/* A non-secret setting from the chart's ConfigMap; call with (list $ "ENV_NAME"). */}}
{{- define "ticketing.env.fromConfig" -}}
- name: {{ index . 1 }}
  valueFrom:
    configMapKeyRef:
      name: {{ include "ticketing.configMapName" (index . 0) }}
      key: {{ index . 1 }}
{{- end -}}

{{/* The management port of a component (MANAGEMENT_PORT: probes and metrics only); call with
(dict "root" $ "spec" $spec). It must differ from the component's own port. */}}
{{- define "ticketing.managementPort" -}}
{{- $port := int .root.Values.managementPort -}}
{{- if eq $port (int .spec.port) -}}
{{- fail (printf "managementPort %d is %s's http port; pick another" $port .spec.name) -}}
{{- end -}}
{{- $port -}}
{{- end -}}

{{/* In-cluster URL of a component's Service; call with (list $ "auth"). */}}
{{- define "ticketing.serviceUrl" -}}
{{- $root := index . 0 -}}
{{- $spec := get (fromYaml (include "ticketing.componentSpecs" $root)) (index . 1) -}}
{{- printf "http://%s:%v" (include "ticketing.componentFullname" (dict "root" $root "spec" $spec)) $spec.port -}}
{{- end -}}
