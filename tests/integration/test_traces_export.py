"""A service process with OTEL_EXPORTER_OTLP_ENDPOINT exports its spans over OTLP/HTTP, under
its own name, continuing the trace an event carries: expiration's handling of
``order.created`` (the delivery, the arq job it schedules in Redis) joins the trace in the
event's ``traceparent``."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from bson import ObjectId
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from redis.asyncio import Redis

from shared.events import OrderCreated, OrderStatus, TicketRef
from shared.messaging import AmqpSettings
from shared.testing.events import event_publisher
from shared.testing.poll import eventually
from shared.testing.services import child_env, free_port, running, wait_for

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"


class Collector:
    """An OTLP/HTTP receiver: the spans of every batch posted to /v1/traces, by service."""

    def __init__(self) -> None:
        self.spans: dict[str, list[Span]] = {}

    async def receive(self, request: web.Request) -> web.Response:
        batch = ExportTraceServiceRequest()
        batch.ParseFromString(await request.read())
        for resource_spans in batch.resource_spans:
            service = next(
                a.value.string_value
                for a in resource_spans.resource.attributes
                if a.key == "service.name"
            )
            for scope in resource_spans.scope_spans:
                self.spans.setdefault(service, []).extend(scope.spans)
        return web.Response(content_type="application/x-protobuf")


@pytest.fixture
async def collector() -> AsyncIterator[tuple[Collector, str]]:
    collector = Collector()
    app = web.Application()
    app.router.add_post("/v1/traces", collector.receive)
    async with TestServer(app, host="127.0.0.1") as server:
        yield collector, str(server.make_url("")).rstrip("/")


async def test_expiration_exports_its_handling_of_an_event_in_the_events_trace(
    collector: tuple[Collector, str],
    amqp: AmqpSettings,
    amqp_url: str,
    amqp_namespace: str,
    redis_url: str,
) -> None:
    received, endpoint = collector
    queue = f"arq:traces-{uuid.uuid4().hex[:8]}"  # no worker polls it: the job stays put
    env = child_env(
        AMQP_URL=amqp_url,
        AMQP_NAMESPACE=amqp_namespace,
        AMQP_QUEUE_TYPE="classic",
        REDIS_URL=redis_url,
        EXPIRATION_QUEUE=queue,
        HOST="127.0.0.1",
        PORT=str(free_port()),
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_BSP_SCHEDULE_DELAY="50",  # ms: export soon after each span ends
    )
    event = OrderCreated(
        id=str(ObjectId()),
        version=0,
        status=OrderStatus.CREATED,
        user_id=str(ObjectId()),
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        ticket=TicketRef(id=str(ObjectId()), price_cents=2000),
    )
    with running("services.expiration", env) as process:
        await asyncio.to_thread(wait_for, env["PORT"])  # ready: its queue is bound
        async with event_publisher(amqp) as publisher:
            await publisher.publish_event(
                event, headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
            )

        def in_trace() -> list[Span]:
            spans = received.spans.get("expiration", [])
            return [s for s in spans if s.trace_id.hex() == TRACE_ID]

        def consumed_and_scheduled() -> bool:
            kinds = {s.kind for s in in_trace()}
            return {Span.SPAN_KIND_CONSUMER, Span.SPAN_KIND_CLIENT} <= kinds

        await eventually(consumed_and_scheduled, what="expiration's spans of the event")
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.communicate, timeout=20)

    spans = in_trace()
    (delivery,) = [s for s in spans if s.kind == Span.SPAN_KIND_CONSUMER]
    assert delivery.parent_span_id.hex() == PARENT_ID
    redis_commands = [s for s in spans if s.kind == Span.SPAN_KIND_CLIENT]
    assert redis_commands
    assert all(s.parent_span_id == delivery.span_id for s in redis_commands)
    assert {
        a.value.string_value for s in redis_commands for a in s.attributes if a.key == "db.system"
    } == {"redis"}
    # The probes it answered while starting are not traced.
    assert not [s for s in received.spans["expiration"] if s.kind == Span.SPAN_KIND_SERVER]

    redis = Redis.from_url(redis_url)
    try:
        await redis.delete(queue, f"arq:job:{event.id}")
    finally:
        await redis.aclose()
