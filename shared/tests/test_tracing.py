"""One request id follows a request: response header, every log line, events and consumers."""

import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from shared import tracing
from shared.events import ExpirationComplete
from shared.messaging import AmqpSettings, Delivery, Subscription, open_messaging
from shared.testing.events import event_publisher
from shared.testing.poll import eventually
from shared.web import HttpSettings, base_app

Client = TestClient[Any, Any]
log = logging.getLogger("test.tracing")
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def traced(request: web.Request) -> web.Response:
    log.info("handling")
    trace = tracing.current()
    assert trace is not None
    return web.json_response({"request_id": trace.request_id, "traceparent": trace.traceparent})


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[Client]]) -> Client:
    app = base_app(HttpSettings())
    app.router.add_get("/traced", traced)
    return await aiohttp_client(app)


@pytest.fixture
def traced_caplog(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Records as a configured service logs them (with the trace filter)."""
    caplog.set_level(logging.INFO, logger=log.name)
    trace_filter = tracing.TraceLogFilter()
    log.addFilter(trace_filter)  # on the logger: caplog's handler changes per test phase
    try:
        yield caplog
    finally:
        log.removeFilter(trace_filter)


async def test_a_given_request_id_is_echoed_and_on_every_log_line(
    client: Client, traced_caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.get(
        "/traced", headers={"X-Request-Id": "req-42", "traceparent": TRACEPARENT}
    )

    assert response.headers["X-Request-Id"] == "req-42"
    assert await response.json() == {"request_id": "req-42", "traceparent": TRACEPARENT}
    handling = [r for r in traced_caplog.records if r.getMessage() == "handling"]
    assert [r.request_id for r in handling] == ["req-42"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("given", [None, "", "has space", "x" * 129, "semi;colon"])
async def test_a_missing_or_unsafe_request_id_is_replaced_by_a_fresh_one(
    client: Client, given: str | None
) -> None:
    headers = {} if given is None else {"X-Request-Id": given}

    response = await client.get("/traced", headers=headers)

    request_id = response.headers["X-Request-Id"]
    assert request_id != given
    assert len(request_id) == 32
    assert (await response.json())["request_id"] == request_id


async def test_a_malformed_traceparent_is_dropped(client: Client) -> None:
    response = await client.get("/traced", headers={"traceparent": "00-zz-zz-01"})

    assert (await response.json())["traceparent"] is None


async def test_errors_carry_the_request_id_too(client: Client) -> None:
    response = await client.get("/nowhere", headers={"X-Request-Id": "req-404"})

    assert response.status == 404
    assert response.headers["X-Request-Id"] == "req-404"


async def test_an_event_published_in_a_request_carries_its_trace_to_the_consumer(
    amqp_settings: AmqpSettings,
) -> None:
    seen: list[tracing.Trace | None] = []

    async def on_expired(event: ExpirationComplete, delivery: Delivery) -> None:
        seen.append(tracing.current())

    subscriptions = [Subscription(ExpirationComplete, on_expired)]
    async with (
        open_messaging(amqp_settings, service="svc", subscriptions=subscriptions),
        event_publisher(amqp_settings) as publisher,
    ):
        with tracing.bound(tracing.Trace("req-7", TRACEPARENT)):
            await publisher.publish_event(ExpirationComplete(order_id="600310f88dab780018985931"))
        await publisher.publish_event(
            ExpirationComplete(order_id="600310f88dab780018985933")
        )  # outside any request

        await eventually(lambda: len(seen) == 2, what="both deliveries")

    assert tracing.Trace("req-7", TRACEPARENT) in seen
    assert None in seen
