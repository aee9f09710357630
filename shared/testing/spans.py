"""Recording spans in a test, with the instrumentations a service process installs.

One provider serves the whole test process: PyMongo's instrumentation keeps the tracer of
the first provider it was installed with, so a provider per test would lose the Mongo spans
of every test after the first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared import spans


@dataclass(frozen=True)
class Recorder:
    provider: TracerProvider
    exporter: InMemorySpanExporter

    def finished(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def of_kind(self, kind: SpanKind) -> list[ReadableSpan]:
        return [span for span in self.finished() if span.kind is kind]


@cache
def _recorder() -> Recorder:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=spans.sampler())
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # exported as each span ends
    return Recorder(provider, exporter)


@contextmanager
def recording() -> Iterator[Recorder]:
    """Spans of the apps and clients created inside the block, kept in memory.

    Not the process's global provider (which can be set only once): the instrumentations
    are given this one, and uninstalled after the block."""
    recorder = _recorder()
    recorder.exporter.clear()
    spans.install(recorder.provider, set_global=False)
    try:
        yield recorder
    finally:
        spans.uninstall()
