"""One user action is one trace across services: the request's span, its MongoDB commands,
the event's publish by the outbox relay, and each consumer's handling (with its own MongoDB
commands), recorded by the instrumentations a service process installs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from services.orders.api.keys import SETTINGS as ORDERS_SETTINGS
from services.tickets.api.keys import SETTINGS as TICKETS_SETTINGS
from shared.events import TicketCreated
from shared.testing.events import EventTap
from shared.testing.fixtures import Signin
from shared.testing.poll import eventually
from shared.testing.spans import Recorder, recording
from tests.integration.conftest import Orders, Tickets
from tests.integration.test_tickets_and_orders import order


@pytest.fixture(autouse=True)
def recorder() -> Iterator[Recorder]:
    """Installed before the services' apps and clients are built (autouse runs first)."""
    with recording() as recorder:
        yield recorder


def ancestors(spans: list[ReadableSpan], span: ReadableSpan) -> list[ReadableSpan]:
    """``span``'s parent, its parent's parent, ... as far as they were recorded."""
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    chain: list[ReadableSpan] = []
    parent = span.parent
    while parent is not None and parent.span_id in by_id:
        chain.append(by_id[parent.span_id])
        parent = chain[-1].parent
    return chain


def in_trace_of(spans: list[ReadableSpan], root: ReadableSpan) -> list[ReadableSpan]:
    assert root.context is not None
    return [
        s for s in spans if s.context is not None and s.context.trace_id == root.context.trace_id
    ]


def mongo_commands(
    spans: list[ReadableSpan], database: str, statement: str, collection: str
) -> list[ReadableSpan]:
    return [
        s
        for s in spans
        if s.kind is SpanKind.CLIENT
        and (s.attributes or {}).get("db.name") == database
        and (s.attributes or {}).get("db.statement") == statement
        and (s.attributes or {}).get("db.mongodb.collection") == collection
    ]


def hex_ids(span: ReadableSpan) -> tuple[str, str]:
    assert span.context is not None
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"


def server_span(recorder: Recorder, name: str, status: int) -> ReadableSpan:
    (span,) = [
        s
        for s in recorder.of_kind(SpanKind.SERVER)
        if s.name == name and (s.attributes or {}).get("http.status_code") == status
    ]
    return span


def database(service: Tickets | Orders, key: Any) -> str:
    name: str = service.client.app[key].mongo.database
    return name


async def test_orders_hearing_of_a_sold_ticket_is_in_the_trace_of_the_sale(
    recorder: Recorder, tickets: Tickets, orders: Orders, signin: Signin, events: EventTap
) -> None:
    response = await tickets.client.post(
        "/api/tickets", json={"title": "concert", "price": 20}, cookies=signin()
    )
    assert response.status == 201, await response.text()
    ticket_id = (await response.json())["id"]
    sale = server_span(recorder, "POST /api/tickets", 201)
    orders_db = database(orders, ORDERS_SETTINGS)

    def replica_written() -> list[ReadableSpan]:
        spans = in_trace_of(recorder.finished(), sale)
        return mongo_commands(spans, orders_db, "update", "tickets")

    (replica_write,) = await eventually(replica_written, what="orders' replica write traced")

    spans = recorder.finished()
    consume, publish, request = ancestors(spans, replica_write)[:3]
    assert consume.kind is SpanKind.CONSUMER
    assert publish.kind is SpanKind.PRODUCER
    assert publish.name.endswith("ticket.created send")
    assert request is sale
    # The sale's own writes (the ticket and its outbox entry, one transaction) are its children.
    tickets_db = database(tickets, TICKETS_SETTINGS)
    for collection in ("tickets", "outbox"):
        (write,) = mongo_commands(in_trace_of(spans, sale), tickets_db, "insert", collection)
        assert ancestors(spans, write)[0] is sale
    # The request id is on the sale's span and on orders' delivery of its event.
    request_id = response.headers["X-Request-Id"]
    for span in (sale, consume):
        assert (span.attributes or {}).get("ticketing.request_id") == request_id
    # The event's headers: the request id as before, and the publish span's context.
    created = await events.wait_for(TicketCreated, lambda e: e.id == ticket_id)
    headers = events.headers_of(created)
    assert headers["x-request-id"] == request_id
    trace_id, span_id = hex_ids(publish)
    assert headers["traceparent"].startswith(f"00-{trace_id}-{span_id}-")


async def test_a_reservation_is_one_trace_from_orders_through_tickets_and_back(
    recorder: Recorder, tickets: Tickets, orders: Orders, signin: Signin
) -> None:
    sold = await tickets.client.post(
        "/api/tickets", json={"title": "concert", "price": 20}, cookies=signin()
    )
    assert sold.status == 201, await sold.text()
    await order(orders, signin(), (await sold.json())["id"])
    reservation = server_span(recorder, "POST /api/orders", 201)
    orders_db = database(orders, ORDERS_SETTINGS)

    def reserved_replica_written() -> list[ReadableSpan]:
        # orders applies ticket.updated (the ticket now reserved), which tickets published
        # while handling order.created: the last hop of the reservation.
        spans = in_trace_of(recorder.finished(), reservation)
        return [
            write
            for write in mongo_commands(spans, orders_db, "update", "tickets")
            if any(a.name.endswith("ticket.updated send") for a in ancestors(spans, write))
        ]

    (replica_write,) = await eventually(
        reserved_replica_written, what="orders applying the ticket's reservation, traced"
    )

    chain = ancestors(recorder.finished(), replica_write)
    kinds = [span.kind for span in chain[:5]]
    assert kinds == [
        SpanKind.CONSUMER,  # orders handles ticket.updated
        SpanKind.PRODUCER,  # which tickets' relay published
        SpanKind.CONSUMER,  # while tickets handled order.created
        SpanKind.PRODUCER,  # which orders' relay published
        SpanKind.SERVER,  # for the reservation
    ]
    assert chain[1].name.endswith("ticket.updated send")
    assert chain[3].name.endswith("order.created send")
    assert chain[4] is reservation
    tickets_db = database(tickets, TICKETS_SETTINGS)
    (reserve,) = mongo_commands(
        in_trace_of(recorder.finished(), reservation), tickets_db, "update", "tickets"
    )
    assert ancestors(recorder.finished(), reserve)[0] is chain[2]  # tickets' handler wrote it
