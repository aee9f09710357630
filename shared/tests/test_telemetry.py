"""Traces are on only with an OTLP endpoint; then spans reach it, and event headers carry
the current span's context."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.trace import SpanKind

from shared import tracing
from shared.config import ConfigError
from shared.telemetry import setup_telemetry, traces_endpoint
from shared.testing.otlp import otlp_receiver
from shared.testing.spans import Recorder, recording

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with recording() as recorder:
        yield recorder


def _environ_without_otel(**extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    return {**environ, **extra}


async def _python(script: str, environ: dict[str, str]) -> str:
    """Run ``script`` in a fresh interpreter (the global provider can be set only once per
    process, and patches must not leak into this one); its stdout."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        textwrap.dedent(script),
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_without_an_endpoint_nothing_is_installed_or_even_loaded() -> None:
    out = await _python(
        """
        import json, sys
        from aiohttp import web
        from pymongo import monitoring
        original_app = web.Application
        from opentelemetry import trace
        from shared.telemetry import setup_telemetry
        on = setup_telemetry("tickets")
        print(json.dumps({
            "on": on,
            "provider": type(trace.get_tracer_provider()).__name__,
            "app_patched": web.Application is not original_app,
            "sdk_loaded": "opentelemetry.sdk" in sys.modules,
            "command_listeners": len(monitoring._LISTENERS.command_listeners),
        }))
        """,
        _environ_without_otel(),
    )

    assert json.loads(out) == {
        "on": False,
        "provider": "ProxyTracerProvider",
        "app_patched": False,
        "sdk_loaded": False,
        "command_listeners": 0,
    }


async def test_with_an_endpoint_request_spans_reach_the_collector_under_the_service_name() -> None:
    with otlp_receiver() as receiver:
        # One app, asked by an aiohttp client for a page and a probe, then the process exits
        # (the batch is flushed at exit).
        await _python(
            """
            import asyncio, aiohttp
            from aiohttp import web
            from shared.telemetry import setup_telemetry
            assert setup_telemetry("tickets")

            async def hello(request):
                return web.Response(text="hi")

            async def main():
                app = web.Application()
                app.router.add_get("/hello", hello)
                app.router.add_get("/healthz", hello)
                runner = web.AppRunner(app)
                await runner.setup()
                site = web.TCPSite(runner, "127.0.0.1", 0)
                await site.start()
                port = runner.addresses[0][1]
                async with aiohttp.ClientSession() as session:
                    for path in ("/hello", "/healthz"):
                        async with session.get(f"http://127.0.0.1:{port}{path}") as r:
                            assert r.status == 200
                await runner.cleanup()

            asyncio.run(main())
            """,
            _environ_without_otel(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url),
        )

    received = receiver.received()
    assert {r.service for r in received} == {"tickets"}
    spans = [(r.span.name, r.span.kind) for r in received]
    assert ("GET /hello", Span.SPAN_KIND_SERVER) in spans
    assert spans.count(("GET", Span.SPAN_KIND_CLIENT)) == 2
    # The probe is left out on the server; the client's two requests are both there.
    assert [kind for _, kind in spans].count(Span.SPAN_KIND_SERVER) == 1


def test_the_general_endpoint_gets_the_traces_path_and_the_signal_one_is_used_as_is() -> None:
    assert traces_endpoint({}) is None
    assert traces_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}) == (
        "http://c:4318/v1/traces"
    )
    assert traces_endpoint(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:4318/custom",
        }
    ) == ("http://t:4318/custom")


def test_a_grpc_protocol_is_refused_naming_the_variable() -> None:
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    }

    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf"):
        setup_telemetry("tickets", environ)


def test_an_event_written_in_a_span_carries_that_span_and_keeps_the_request_id(
    recorder: Recorder,
) -> None:
    tracer = recorder.provider.get_tracer("test")
    with (
        tracing.bound(tracing.Trace("req-7", TRACEPARENT)),
        tracer.start_as_current_span("request") as span,
    ):
        headers = tracing.event_headers()

    context = span.get_span_context()
    assert headers == {
        "x-request-id": "req-7",
        "traceparent": (
            f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
        ),
    }


def test_a_line_logged_in_a_span_carries_its_trace_id(recorder: Recorder) -> None:
    tracer = recorder.provider.get_tracer("test")
    record = logging.makeLogRecord({"msg": "handling"})
    outside = logging.makeLogRecord({"msg": "idle"})

    with tracer.start_as_current_span("request") as span:
        tracing.TraceLogFilter().filter(record)
    tracing.TraceLogFilter().filter(outside)

    assert getattr(record, "trace_id", None) == f"{span.get_span_context().trace_id:032x}"
    assert not hasattr(outside, "trace_id")


def test_without_a_span_an_event_keeps_the_traceparent_it_was_given(recorder: Recorder) -> None:
    with tracing.bound(tracing.Trace("req-7", TRACEPARENT)):
        assert tracing.event_headers() == {"x-request-id": "req-7", "traceparent": TRACEPARENT}


def test_a_publish_continues_the_span_its_headers_carry_not_the_current_one(
    recorder: Recorder,
) -> None:
    tracer = recorder.provider.get_tracer("test")
    with (
        tracer.start_as_current_span("relay pass"),
        tracing.continued({"traceparent": TRACEPARENT}),
        tracer.start_as_current_span("publish"),
    ):
        pass

    (publish,) = [span for span in recorder.finished() if span.name == "publish"]
    assert publish.parent is not None
    assert f"{publish.parent.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
    assert f"{publish.parent.span_id:016x}" == "b7ad6b7169203331"


async def test_a_server_span_continues_the_calling_clients_span(
    recorder: Recorder, aiohttp_client: Callable[..., Awaitable[Any]]
) -> None:
    app = web.Application()  # created after install: the server middleware is in
    app.router.add_get("/hello", _ok)
    client = await aiohttp_client(app)

    response = await client.get("/hello")

    assert response.status == 200
    (server,) = recorder.of_kind(SpanKind.SERVER)
    (caller,) = recorder.of_kind(SpanKind.CLIENT)  # the test client is an aiohttp client too
    assert server.name == "GET /hello"
    assert server.parent is not None
    assert server.parent.span_id == caller.context.span_id


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")
