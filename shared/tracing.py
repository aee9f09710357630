"""Request tracing: one id follows a request through every service's logs and events.

nginx accepts a client's ``X-Request-Id`` or makes one; each service binds it (and the W3C
``traceparent`` when present) for the request's duration, every log line carries it, every
event written meanwhile carries it in its headers, and a consumer binds it again while
handling that event, so one purchase can be followed across services.

When OpenTelemetry traces are on (``shared.telemetry``), the ``traceparent`` an event
carries is the current span's, written when the event is (the outbox keeps it until the
relay publishes), and the relay's publish continues that span context: the consumer's span
is then a child of the request's, in the same trace.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry import trace as otel_trace

REQUEST_ID_HEADER = "X-Request-Id"
TRACEPARENT_HEADER = "traceparent"
# Event headers are lower-case AMQP table keys.
REQUEST_ID_KEY = "x-request-id"
# The span attribute that carries it (no semantic convention names a request id).
REQUEST_ID_ATTRIBUTE = "ticketing.request_id"

# Anything else from outside is replaced: ids end up in logs and headers verbatim.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# version-traceid-parentid-flags (W3C Trace Context); the all-zero ids are invalid.
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")


@dataclass(frozen=True)
class Trace:
    request_id: str
    traceparent: str | None = None

    def headers(self) -> dict[str, str]:
        """Event headers that carry this trace."""
        carried = {REQUEST_ID_KEY: self.request_id}
        if self.traceparent:
            carried[TRACEPARENT_HEADER] = self.traceparent
        return carried


_current: ContextVar[Trace | None] = ContextVar("trace", default=None)
# Set once by shared.telemetry when spans are recorded; while unset the functions below
# do what they did before traces existed, at no extra cost.
_spans_on = False


def carry_spans(on: bool) -> None:
    """Let event headers carry the current span's context, and publishes continue it."""
    global _spans_on
    _spans_on = on


def current() -> Trace | None:
    return _current.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


def _text(value: Any) -> str | None:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("ascii", "replace")
    return value if isinstance(value, str) else None


def trace_from(request_id: Any, traceparent: Any = None) -> Trace:
    """A trace from untrusted values: a malformed id is replaced, a bad traceparent dropped."""
    rid = _text(request_id)
    parent = _text(traceparent)
    return Trace(
        request_id=rid if rid and _REQUEST_ID.fullmatch(rid) else new_request_id(),
        traceparent=parent if parent and _TRACEPARENT.fullmatch(parent.lower()) else None,
    )


def trace_from_event_headers(headers: Mapping[str, Any]) -> Trace | None:
    """The trace an event carries, or None if it was published outside any request."""
    if REQUEST_ID_KEY not in headers:
        return None
    return trace_from(headers[REQUEST_ID_KEY], headers.get(TRACEPARENT_HEADER))


def event_headers(headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """Headers for an event emitted now: the current trace's, then ``headers`` (which win).

    With spans on, ``traceparent`` is the current span's (the request's, or the handled
    event's), captured now: the relay publishes later, outside that span.
    """
    trace = _current.get()
    carried = trace.headers() if trace else {}
    if _spans_on:
        propagate.inject(carried)
    return {**carried, **(headers or {})}


@contextmanager
def continued(headers: Mapping[str, Any] | None) -> Iterator[None]:
    """With spans on, the span context that ``headers`` carry is current for the block.

    For publishing an event whose headers were written earlier (the outbox relay runs in a
    task of its own): the publish span joins the trace of the request that wrote the event,
    whatever else is current.
    """
    token = None
    if _spans_on and headers and TRACEPARENT_HEADER in headers:
        token = otel_context.attach(propagate.extract(headers))
    try:
        yield
    finally:
        if token is not None:
            otel_context.detach(token)


@contextmanager
def bound(trace: Trace | None) -> Iterator[None]:
    """Make ``trace`` current for the block (log lines and emitted events pick it up).

    With spans on, the current span (the request's, or the delivery's) gets the request id
    as ``ticketing.request_id``: a trace can be found from a log line's id, or a client's.
    """
    if _spans_on and trace is not None:
        otel_trace.get_current_span().set_attribute(REQUEST_ID_ATTRIBUTE, trace.request_id)
    token = _current.set(trace)
    try:
        yield
    finally:
        _current.reset(token)


class TraceLogFilter(logging.Filter):
    """Adds ``request_id`` to records logged while a trace is bound, and with spans on the
    current span's ``trace_id`` (JSON logs show it: a log line leads to its trace)."""

    def filter(self, record: logging.LogRecord) -> bool:
        trace = _current.get()
        if trace is not None and not hasattr(record, "request_id"):
            record.request_id = trace.request_id
        if _spans_on and not hasattr(record, "trace_id"):
            span = otel_trace.get_current_span().get_span_context()
            if span.is_valid:
                record.trace_id = f"{span.trace_id:032x}"
        return True
