"""Traces of the whole stack behind nginx, exported over OTLP/HTTP to a local receiver: each
request of a purchase is one trace across the services it sets in motion, and a page of the
web client is one trace with the API calls it makes."""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from deploy.local.stack import Stack, running_stack
from shared.testing.otlp import OtlpReceiver, otlp_receiver
from shared.testing.poll import eventually
from shared.testing.services import free_port
from tests.e2e.conftest import PersonFactory, stack_env
from tools.chaos.stack import free_port_offset


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def traced_stack(amqp_url: str, receiver: OtlpReceiver) -> Iterator[Stack]:
    env = stack_env(
        amqp_url,
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
        OTEL_BSP_SCHEDULE_DELAY="100",  # ms: spans arrive soon after they end
    )
    with running_stack(free_port(), env=env, port_offset=free_port_offset()) as stack:
        yield stack


def served(receiver: OtlpReceiver, service: str, name: str, status: int) -> list[Span]:
    """The SERVER spans ``service`` exported for ``name`` answered with ``status``."""
    return [
        span
        for span in receiver.spans(service)
        if span.kind == Span.SPAN_KIND_SERVER
        and span.name == name
        and any(
            a.key == "http.status_code" and a.value.int_value == status for a in span.attributes
        )
    ]


async def services_reach(receiver: OtlpReceiver, span: Span, services: set[str]) -> None:
    def reached() -> bool:
        return services <= {r.service for r in receiver.in_trace(span.trace_id)}

    await eventually(reached, what=f"{sorted(services)} in the trace of {span.name}")


async def test_each_request_of_a_purchase_is_one_trace_across_the_services_it_moves(
    traced_stack: Stack, receiver: OtlpReceiver, someone: PersonFactory
) -> None:
    seller, buyer = await someone(traced_stack), await someone(traced_stack)
    ticket = await seller.sell("The Traced Concert", 25)
    order = await buyer.order_when_known(ticket["id"])
    paid = await buyer.pay_when_known(order["id"])
    assert paid.status == 201, await paid.text()
    await buyer.order_reaches(order["id"], "complete")

    (sale,) = await eventually(
        lambda: served(receiver, "tickets", "POST /api/tickets", 201), what="the sale's span"
    )
    # ticket.created: orders and payments keep replicas of the ticket.
    await services_reach(receiver, sale, {"tickets", "orders"})
    (reservation,) = await eventually(
        lambda: served(receiver, "orders", "POST /api/orders", 201), what="the order's span"
    )
    # order.created: tickets reserves the ticket, expiration schedules the expiry (Redis),
    # payments records the order it may be paid for.
    await services_reach(receiver, reservation, {"orders", "tickets", "expiration", "payments"})
    (payment,) = await eventually(
        lambda: served(receiver, "payments", "POST /api/payments", 201), what="the payment's span"
    )
    # payment.created: orders completes the order.
    await services_reach(receiver, payment, {"payments", "orders"})


async def test_a_page_of_the_web_client_is_one_trace_with_the_api_calls_it_makes(
    traced_stack: Stack, receiver: OtlpReceiver
) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{traced_stack.url}/") as page:
        assert page.status == 200

    (landing,) = await eventually(
        lambda: served(receiver, "client", "GET /", 200), what="the landing page's span"
    )
    await services_reach(receiver, landing, {"client", "tickets"})
