"""Event contracts: wire names, money, instants, tolerance and rejection."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.events import (
    EVENT_TYPES,
    Event,
    ExpirationComplete,
    MalformedEvent,
    OrderCancelled,
    OrderCreated,
    OrderStatus,
    PaymentCreated,
    TicketCreated,
    TicketId,
    TicketRef,
    TicketUpdated,
    decode,
    encode,
)

T1, U1 = "60029252cba1360018999688", "5fd843a29fc5e30023bd790b"
EXPIRES_AT = datetime(2021, 1, 16, 16, 31, 30, 47000, tzinfo=UTC)

SAMPLES: list[tuple[Event, dict[str, object]]] = [
    (
        TicketCreated(
            id="60029252cba1360018999688",
            version=0,
            title="Concert",
            price_cents=1050,
            user_id="5fd843a29fc5e30023bd790b",
        ),
        {
            "id": "60029252cba1360018999688",
            "version": 0,
            "title": "Concert",
            "price": 10.5,
            "userId": "5fd843a29fc5e30023bd790b",
        },
    ),
    (
        TicketUpdated(
            id="60029252cba1360018999688",
            version=2,
            title="Concert",
            price_cents=1000,
            user_id="5fd843a29fc5e30023bd790b",
            order_id="600310f88dab780018985931",
        ),
        {
            "id": "60029252cba1360018999688",
            "version": 2,
            "title": "Concert",
            "price": 10,
            "userId": "5fd843a29fc5e30023bd790b",
            "orderId": "600310f88dab780018985931",
        },
    ),
    (
        OrderCreated(
            id="600310f88dab780018985931",
            version=0,
            status=OrderStatus.CREATED,
            user_id="5fd843a29fc5e30023bd790c",
            expires_at=EXPIRES_AT,
            ticket=TicketRef(id="60029252cba1360018999688", price_cents=1999),
        ),
        {
            "id": "600310f88dab780018985931",
            "version": 0,
            "status": "created",
            "userId": "5fd843a29fc5e30023bd790c",
            "expiresAt": "2021-01-16T16:31:30.047Z",
            "ticket": {"id": "60029252cba1360018999688", "price": 19.99},
        },
    ),
    (
        OrderCancelled(
            id="600310f88dab780018985931", version=1, ticket=TicketId(id="60029252cba1360018999688")
        ),
        {
            "id": "600310f88dab780018985931",
            "version": 1,
            "ticket": {"id": "60029252cba1360018999688"},
        },
    ),
    (
        ExpirationComplete(order_id="600310f88dab780018985931"),
        {"orderId": "600310f88dab780018985931"},
    ),
    (
        PaymentCreated(
            id="600310f88dab780018985932", order_id="600310f88dab780018985931", stripe_id="pi_123"
        ),
        {
            "id": "600310f88dab780018985932",
            "orderId": "600310f88dab780018985931",
            "stripeId": "pi_123",
        },
    ),
]


@pytest.mark.parametrize(("event", "wire"), SAMPLES, ids=lambda v: getattr(v, "routing_key", ""))
def test_each_contract_encodes_to_the_camel_case_wire_form(
    event: Event, wire: dict[str, object]
) -> None:
    assert json.loads(encode(event)) == wire


@pytest.mark.parametrize(("event", "wire"), SAMPLES, ids=lambda v: getattr(v, "routing_key", ""))
def test_each_contract_round_trips_through_encode_and_decode(
    event: Event, wire: dict[str, object]
) -> None:
    assert decode(event.routing_key, encode(event)) == event


def test_the_catalogue_names_the_eleven_routing_keys() -> None:
    assert set(EVENT_TYPES) == {
        "ticket.snapshot",
        "order.snapshot",
        "snapshot.requested",
        "snapshot.completed",
        "ticket.created",
        "ticket.updated",
        "order.created",
        "order.cancelled",
        "expiration.complete",
        "payment.created",
        "session.revoked",
    }


def test_encoding_is_compact_json() -> None:
    body = encode(ExpirationComplete(order_id="600310f88dab780018985931"))

    assert body == b'{"orderId":"600310f88dab780018985931"}'


@pytest.mark.parametrize(
    ("number", "cents"),
    [("10.5", 1050), ("10", 1000), ("0.50", 50), ("19.99", 1999), ("10.50", 1050)],
)
def test_price_numbers_become_exact_integer_cents(number: str, cents: int) -> None:
    body = f'{{"id":"{T1}","version":0,"title":"x","price":{number},"userId":"{U1}"}}'.encode()

    event = decode("ticket.created", body)

    assert isinstance(event, TicketCreated)
    assert event.price_cents == cents


def test_cents_are_written_as_a_number_with_at_most_two_decimals() -> None:
    prices = [
        json.loads(encode(TicketCreated("t", 0, "x", cents, "u")))["price"]
        for cents in (1050, 1000, 1, 1999, 123456789)
    ]

    assert prices == [10.5, 10, 0.01, 19.99, 1234567.89]


@pytest.mark.parametrize("price", ["10.555", "-1", '"10.5"', "true", "null", "1e-3"])
def test_a_price_that_is_not_a_non_negative_two_decimal_number_is_malformed(price: str) -> None:
    body = f'{{"id":"{T1}","version":0,"title":"x","price":{price},"userId":"{U1}"}}'.encode()

    with pytest.raises(MalformedEvent, match="price"):
        decode("ticket.created", body)


def test_expires_at_is_written_as_iso_utc_with_z() -> None:
    in_paris = EXPIRES_AT.astimezone(timezone(timedelta(hours=1)))
    event = OrderCreated(
        "600310f88dab780018985931",
        0,
        OrderStatus.CREATED,
        "5fd843a29fc5e30023bd790b",
        in_paris,
        TicketRef("60029252cba1360018999688", 100),
    )

    assert json.loads(encode(event))["expiresAt"] == "2021-01-16T16:31:30.047Z"


def test_expires_at_with_an_offset_is_read_as_the_same_instant_in_utc() -> None:
    body = (
        b'{"id":"600310f88dab780018985931","version":0,"status":"created","userId":"5fd843a29fc5e30023bd790b",'
        b'"expiresAt":"2021-01-16T17:31:30.047+01:00","ticket":{"id":"60029252cba1360018999688","price":1}}'
    )

    event = decode("order.created", body)

    assert isinstance(event, OrderCreated)
    assert event.expires_at == EXPIRES_AT
    assert event.expires_at.tzinfo is UTC


def test_expires_at_without_a_timezone_is_malformed() -> None:
    body = (
        b'{"id":"600310f88dab780018985931","version":0,"status":"created","userId":"5fd843a29fc5e30023bd790b",'
        b'"expiresAt":"2021-01-16T16:31:30.047","ticket":{"id":"60029252cba1360018999688","price":1}}'
    )

    with pytest.raises(MalformedEvent, match="expiresAt"):
        decode("order.created", body)


def test_a_naive_expires_at_is_refused_when_building_the_event() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        OrderCreated(
            "600310f88dab780018985931",
            0,
            OrderStatus.CREATED,
            "5fd843a29fc5e30023bd790b",
            datetime(2021, 1, 1),
            TicketRef("60029252cba1360018999688", 1),
        )


def test_unknown_fields_are_ignored() -> None:
    body = b'{"orderId":"600310f88dab780018985931","extra":1,"nested":{"x":true}}'

    assert decode("expiration.complete", body) == ExpirationComplete(
        order_id="600310f88dab780018985931"
    )


@pytest.mark.parametrize("order_id", [b"", b',"orderId":null'])
def test_a_missing_or_null_order_id_on_ticket_updated_means_none(order_id: bytes) -> None:
    body = (
        b'{"id":"60029252cba1360018999688","version":1,"title":"x","price":5,"userId":"5fd843a29fc5e30023bd790b"'
        + order_id
        + b"}"
    )

    event = decode("ticket.updated", body)

    assert isinstance(event, TicketUpdated)
    assert event.order_id is None


def test_a_released_ticket_is_sent_without_order_id() -> None:
    wire = json.loads(
        encode(
            TicketUpdated(
                "60029252cba1360018999688", 3, "x", 500, "5fd843a29fc5e30023bd790b", order_id=None
            )
        )
    )

    assert "orderId" not in wire


@pytest.mark.parametrize(
    ("routing_key", "body"),
    [
        ("ticket.deleted", b'{"id":"60029252cba1360018999688"}'),
        ("ticket.created", b"{not json"),
        ("ticket.created", b"[1, 2]"),
        ("ticket.created", b"\xff\xfe"),
        (
            "ticket.created",
            b'{"id":"60029252cba1360018999688","version":0,"title":"x","price":NaN,"userId":"5fd843a29fc5e30023bd790b"}',
        ),
        (
            "ticket.created",
            b'{"id":"60029252cba1360018999688","version":"0","title":"x","price":1,"userId":"5fd843a29fc5e30023bd790b"}',
        ),
        ("ticket.created", b'{"id":"60029252cba1360018999688","version":0,"title":"x","price":1}'),
        (
            "order.created",
            b'{"id":"600310f88dab780018985931","version":0,"status":"lost","userId":"5fd843a29fc5e30023bd790b","expiresAt":"2021-01-16T16:31:30Z","ticket":{"id":"60029252cba1360018999688","price":1}}',
        ),
        ("order.cancelled", b'{"id":"600310f88dab780018985931","version":0,"ticket":{}}'),
        (
            "payment.created",
            b'{"id":"600310f88dab780018985932","orderId":"600310f88dab780018985931"}',
        ),
    ],
)
def test_a_bad_body_or_unknown_key_raises_malformed_event(routing_key: str, body: bytes) -> None:
    with pytest.raises(MalformedEvent):
        decode(routing_key, body)


def test_malformed_event_is_a_value_error() -> None:
    assert issubclass(MalformedEvent, ValueError)


def test_expires_at_keeps_millisecond_precision_like_bson() -> None:
    event = OrderCreated(
        "600310f88dab780018985931",
        0,
        OrderStatus.CREATED,
        "5fd843a29fc5e30023bd790b",
        EXPIRES_AT.replace(microsecond=47999),
        TicketRef("60029252cba1360018999688", 100),
    )

    assert event.expires_at == EXPIRES_AT
    assert decode("order.created", encode(event)) == event
