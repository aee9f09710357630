"""A service process with OTEL_EXPORTER_OTLP_ENDPOINT exports its spans over OTLP/HTTP, under
its own name, continuing the trace an event carries: expiration's handling of
``order.created`` (the delivery, the arq job it schedules in Redis) joins the trace in the
event's ``traceparent``."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from redis.asyncio import Redis

from shared.events import OrderCreated, OrderStatus, TicketRef
from shared.messaging import AmqpSettings
from shared.testing.events import event_publisher
from shared.testing.otlp import OtlpReceiver, otlp_receiver
from shared.testing.poll import eventually
from shared.testing.services import child_env, free_port, running, wait_for

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as receiver:
        yield receiver


async def test_expiration_exports_its_handling_of_an_event_in_the_events_trace(
    receiver: OtlpReceiver,
    amqp: AmqpSettings,
    amqp_url: str,
    amqp_namespace: str,
    redis_url: str,
) -> None:
    queue = f"arq:traces-{uuid.uuid4().hex[:8]}"  # no worker polls it: the job stays put
    env = child_env(
        AMQP_URL=amqp_url,
        AMQP_NAMESPACE=amqp_namespace,
        AMQP_QUEUE_TYPE="classic",
        REDIS_URL=redis_url,
        EXPIRATION_QUEUE=queue,
        HOST="127.0.0.1",
        PORT=str(free_port()),
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
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
            return [r.span for r in receiver.in_trace(bytes.fromhex(TRACE_ID))]

        def consumed_and_scheduled() -> bool:
            kinds = {s.kind for s in in_trace()}
            return {Span.SPAN_KIND_CONSUMER, Span.SPAN_KIND_CLIENT} <= kinds

        await eventually(consumed_and_scheduled, what="expiration's spans of the event")
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.communicate, timeout=20)

    assert {r.service for r in receiver.in_trace(bytes.fromhex(TRACE_ID))} == {"expiration"}
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
    assert not [s for s in receiver.spans("expiration") if s.kind == Span.SPAN_KIND_SERVER]

    redis = Redis.from_url(redis_url)
    try:
        await redis.delete(queue, f"arq:job:{event.id}")
    finally:
        await redis.aclose()
