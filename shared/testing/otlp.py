"""A local OTLP/HTTP receiver for tests: what service processes export when
``OTEL_EXPORTER_OTLP_ENDPOINT`` points at it.

A thread of its own (the standard library's HTTP server), so that it answers while a test
blocks its event loop, e.g. starting a whole stack.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

TRACES_PATH = "/v1/traces"


@dataclass(frozen=True)
class Received:
    service: str  # the resource's service.name
    span: Span


class OtlpReceiver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self.url = ""  # http://127.0.0.1:<port>, the value for OTEL_EXPORTER_OTLP_ENDPOINT

    def add(self, batch: ExportTraceServiceRequest) -> None:
        with self._lock:
            for resource_spans in batch.resource_spans:
                service = next(
                    (
                        a.value.string_value
                        for a in resource_spans.resource.attributes
                        if a.key == "service.name"
                    ),
                    "",
                )
                for scope in resource_spans.scope_spans:
                    self._received.extend(Received(service, span) for span in scope.spans)

    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def spans(self, service: str) -> list[Span]:
        return [r.span for r in self.received() if r.service == service]

    def in_trace(self, trace_id: bytes) -> list[Received]:
        return [r for r in self.received() if r.span.trace_id == trace_id]


def _handler(receiver: OtlpReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path != TRACES_PATH:
                self.send_error(404)
                return
            batch = ExportTraceServiceRequest()
            batch.ParseFromString(body)
            receiver.add(batch)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass  # a line per batch would drown the test's output

    return Handler


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """A receiver on a free port of 127.0.0.1, for the block."""
    receiver = OtlpReceiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
