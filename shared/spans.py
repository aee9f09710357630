"""What traces record, with the official OpenTelemetry instrumentations (``shared.telemetry``
decides whether; this module is imported only when traces are on, and by the tests).

- aiohttp server: a SERVER span per request, child of the caller's ``traceparent``; the
  probes and ``/metrics`` are left out (a probe every few seconds would bury the traces).
- aiohttp client: a CLIENT span per outgoing request (the client's calls to the APIs,
  payments' calls to Stripe), whose context goes out in its ``traceparent`` (replacing the
  one the caller set).
- aio-pika: a PRODUCER span per publish, whose context it writes into the message headers,
  and a CONSUMER span per delivery, child of the context the headers carry, around our
  handler. The outbox relay publishes long after the request, so ``shared.tracing`` captures
  the request's context when the event is written and the publish continues it.
- PyMongo: a CLIENT span per command. The instrumentation is a global command listener
  (``pymongo.monitoring.register``); the async client (``AsyncMongoClient``) is covered as
  well, because it takes the global listeners when it is created and publishes each
  command's started event in the caller's task, so the span's parent is the caller's span.
- Redis: a CLIENT span per command, ``redis.asyncio`` included (arq's client).

Database and cache commands that run outside any request or event are the background
loops' polling (the outbox relay's sweep, the denylist refresh, arq's queue polling): a
tiny trace every few hundred milliseconds, so a database or cache span without a parent is
not sampled unless ``OTEL_TRACES_SAMPLER`` chooses otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Protocol

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor
from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from shared import tracing

# Read by the aiohttp server instrumentation when it is installed (regular expressions,
# comma-separated, searched in the path); a deployment may set its own.
EXCLUDED_URLS_VAR = "OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS"
UNTRACED_PATHS = "^/healthz$,^/readyz$,^/metrics$"


class NoOrphanClientCalls(Sampler):
    """Samples every root span but a database or cache command (a CLIENT span that is not an
    HTTP request): with no request or event above it, that is a background loop's polling,
    not something a user did. An HTTP call stays: the service it calls continues its trace,
    and would drop it too if this one were dropped."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if kind is SpanKind.CLIENT and not _is_http(attributes):
            return SamplingResult(Decision.DROP)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "NoOrphanClientCalls"


def _is_http(attributes: Attributes) -> bool:
    # The aiohttp client's span has its method from the start (old and new conventions);
    # PyMongo's and Redis' have no HTTP attribute.
    if not attributes:
        return False
    return "http.request.method" in attributes or "http.method" in attributes


def sampler() -> Sampler:
    """Children follow their parent's decision (the caller's, across services)."""
    return ParentBased(root=NoOrphanClientCalls())


def exporting_provider(
    service_name: str, endpoint: str, *, sampler_from_env: bool = False
) -> TracerProvider:
    """A provider that batches spans to the OTLP/HTTP ``endpoint`` under ``service_name``
    (``OTEL_RESOURCE_ATTRIBUTES`` adds to the resource). It flushes at exit."""
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: service_name}),
        # None: the SDK reads OTEL_TRACES_SAMPLER (and its argument) itself.
        sampler=None if sampler_from_env else sampler(),
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


class Instrumentor(Protocol):
    """What of opentelemetry-instrumentation's BaseInstrumentor is used here."""

    def instrument(self, **kwargs: Any) -> None: ...

    def uninstrument(self, **kwargs: Any) -> None: ...


def _instrumentors() -> list[Instrumentor]:
    # Singletons: the same instances are found again by ``uninstall``.
    return [
        AioHttpServerInstrumentor(),
        AioHttpClientInstrumentor(),
        AioPikaInstrumentor(),
        PymongoInstrumentor(),
        RedisInstrumentor(),
    ]


def install(provider: TracerProvider, *, set_global: bool = True) -> None:
    """Instrument aiohttp (server and client), aio-pika, PyMongo and Redis to record into
    ``provider``, and let event headers carry span contexts. Before any app or client is
    created. ``set_global`` makes ``provider`` the process's (once per process: tests pass
    False and keep theirs)."""
    if set_global:
        trace.set_tracer_provider(provider)
    os.environ.setdefault(EXCLUDED_URLS_VAR, UNTRACED_PATHS)
    for instrumentor in _instrumentors():
        instrumentor.instrument(tracer_provider=provider)
    tracing.carry_spans(True)


def uninstall() -> None:
    """Undo ``install`` (for tests): apps and clients created afterwards record nothing."""
    tracing.carry_spans(False)
    for instrumentor in _instrumentors():
        instrumentor.uninstrument()
