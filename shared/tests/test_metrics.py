"""GET /metrics: requests by route template, events by outcome, the outbox backlog."""

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client import REGISTRY

from shared.events import ExpirationComplete
from shared.messaging import AmqpSettings, Delivery, RetryLater, Subscription, open_messaging
from shared.testing.events import event_publisher
from shared.testing.poll import eventually
from shared.web import HttpSettings, base_app

Client = TestClient[Any, Any]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def show_thing(request: web.Request) -> web.Response:
    return web.json_response({"id": request.match_info["id"]})


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[Client]]) -> Client:
    app = base_app(HttpSettings())
    app.router.add_get("/things/{id}", show_thing)
    return await aiohttp_client(app)


async def test_requests_are_counted_by_route_template_not_by_path(client: Client) -> None:
    labels = {"route": "/things/{id}", "method": "GET", "status": "200"}
    before = sample("http_requests_total", **labels)

    for thing in ("a", "b", "c"):
        await client.get(f"/things/{thing}")

    assert sample("http_requests_total", **labels) == before + 3
    assert sample("http_request_duration_seconds_count", route="/things/{id}", method="GET") >= 3


async def test_unknown_paths_share_one_label(client: Client) -> None:
    labels = {"route": "unmatched", "method": "GET", "status": "404"}
    before = sample("http_requests_total", **labels)

    await client.get("/random/probe/1")
    await client.get("/random/probe/2")

    assert sample("http_requests_total", **labels) == before + 2


async def test_metrics_are_served_in_the_prometheus_text_format(client: Client) -> None:
    await client.get("/things/x")

    response = await client.get("/metrics")

    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    text = await response.text()
    assert 'http_requests_total{method="GET",route="/things/{id}",status="200"}' in text
    assert "# TYPE outbox_backlog gauge" in text


async def test_events_are_counted_when_published_and_when_settled(
    amqp_settings: AmqpSettings,
) -> None:
    key = ExpirationComplete.routing_key
    published = sample("events_published_total", event=key)
    acked = sample("events_consumed_total", event=key, outcome="acked")
    retried = sample("events_consumed_total", event=key, outcome="retried")
    attempts: list[int] = []

    async def on_expired(event: ExpirationComplete, delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        if delivery.attempt == 1:
            raise RetryLater("not yet")

    subscriptions = [Subscription(ExpirationComplete, on_expired)]
    async with (
        open_messaging(amqp_settings, service="svc", subscriptions=subscriptions),
        event_publisher(amqp_settings) as publisher,
    ):
        await publisher.publish_event(ExpirationComplete(order_id="600310f88dab780018985931"))
        await eventually(lambda: attempts == [1, 2], what="a retry then success")
        await eventually(
            lambda: sample("events_consumed_total", event=key, outcome="acked") == acked + 1
        )

    assert sample("events_published_total", event=key) == published + 1
    assert sample("events_consumed_total", event=key, outcome="retried") == retried + 1
