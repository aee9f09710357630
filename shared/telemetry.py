"""OpenTelemetry traces: recorded and exported over OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT``
(or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set, and not even imported otherwise.

``setup_telemetry`` runs once per process, in ``shared.runner`` before the app, its MongoDB
client or its broker connection exist (the instrumentations patch classes and register
PyMongo's global command listener, which a client only picks up when it is created). What
is recorded, and how, is ``shared.spans``; this module only decides whether, so that a
process without an endpoint loads none of the SDK and records nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from shared.config import ConfigError, mask_url

log = logging.getLogger(__name__)

ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
PROTOCOL = "OTEL_EXPORTER_OTLP_PROTOCOL"
TRACES_PROTOCOL = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
SERVICE_NAME = "OTEL_SERVICE_NAME"
# The exporter this image carries: the grpc one would add grpcio to every install.
SUPPORTED_PROTOCOL = "http/protobuf"


def traces_endpoint(environ: Mapping[str, str]) -> str | None:
    """Where spans go (the OTLP/HTTP traces URL), or None when traces are off."""
    traces = environ.get(TRACES_ENDPOINT, "").strip()
    if traces:
        return traces
    base = environ.get(ENDPOINT, "").strip()
    # The general variable names the collector; the signal's path is appended (OTLP spec).
    return f"{base.rstrip('/')}/v1/traces" if base else None


def setup_telemetry(service_name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Record and export traces if an endpoint is set; returns whether they are on.

    ``OTEL_SERVICE_NAME`` overrides ``service_name``; the SDK's other ``OTEL_*`` variables
    (resource attributes, sampler, batch sizes, headers) apply as documented. Raises
    ``ConfigError`` for a protocol other than http/protobuf.
    """
    env = os.environ if environ is None else environ
    endpoint = traces_endpoint(env)
    if endpoint is None:
        return False
    for name in (TRACES_PROTOCOL, PROTOCOL):
        protocol = env.get(name, "").strip()
        if protocol and protocol != SUPPORTED_PROTOCOL:
            raise ConfigError(f"{name} must be {SUPPORTED_PROTOCOL}, got {protocol!r}")
    # Only now: the SDK, the exporter and the instrumentations cost ~0.2 s to import.
    from shared import spans

    provider = spans.exporting_provider(
        env.get(SERVICE_NAME, "").strip() or service_name,
        endpoint,
        sampler_from_env=bool(env.get("OTEL_TRACES_SAMPLER", "").strip()),
    )
    spans.install(provider)
    log.info("traces on: OTLP/HTTP to %s", mask_url(endpoint))
    return True
