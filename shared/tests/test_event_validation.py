"""The consumer's decode() is as strict as the API: every malformed variant is a MalformedEvent.

Each contract starts from a valid wire body; one field at a time is replaced by a value
that breaks its rule (ObjectId form, price bounds, title length, version range, status,
datetime), or by any JSON value at all. decode() must refuse the first kind naming the
field, and answer the second with an event or a MalformedEvent, never another exception.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.events import (
    EVENT_TYPES,
    ORDER_STATUSES,
    Event,
    MalformedEvent,
    OrderCreated,
    TicketCreated,
    TicketRef,
    TicketUpdated,
    decode,
    encode,
)
from shared.events.fields import MAX_PRICE_CENTS, MIN_PRICE_CENTS, TITLE_MAX_LENGTH

OID = "60029252cba1360018999688"
OTHER_OID = "5fd843a29fc5e30023bd790b"
REQUEST = "3f2b9c4d5e6f47a8b9c0d1e2f3a4b5c6"

VALID: dict[str, dict[str, Any]] = {
    "ticket.created": {"id": OID, "version": 0, "title": "Gig", "price": 10, "userId": OTHER_OID},
    "ticket.updated": {
        "id": OID,
        "version": 1,
        "title": "Gig",
        "price": 10.5,
        "userId": OTHER_OID,
        "orderId": OTHER_OID,
    },
    "order.created": {
        "id": OID,
        "version": 0,
        "status": "created",
        "userId": OTHER_OID,
        "expiresAt": "2021-01-16T16:31:30.047Z",
        "ticket": {"id": OTHER_OID, "price": 20},
    },
    "order.cancelled": {"id": OID, "version": 1, "ticket": {"id": OTHER_OID}},
    "expiration.complete": {"orderId": OID},
    "payment.created": {"id": OID, "orderId": OTHER_OID, "stripeId": "pi_3MtwBwLkdIwHu7ix"},
    "session.revoked": {"jti": "mI0bK3pDq2v9XgHs7YtZ1w", "userId": OID, "exp": 1_900_000_000},
    "ticket.snapshot": {
        "id": OID,
        "version": 4,
        "title": "Gig",
        "price": 10.5,
        "userId": OTHER_OID,
        "orderId": None,
        "requestId": REQUEST,
    },
    "order.snapshot": {
        "id": OID,
        "version": 1,
        "status": "cancelled",
        "userId": OTHER_OID,
        "expiresAt": "2021-01-16T16:31:30.047Z",
        "ticket": {"id": OTHER_OID, "price": 20},
        "requestId": REQUEST,
    },
    "snapshot.requested": {"requestId": REQUEST, "entity": "ticket", "requester": "orders"},
    "snapshot.completed": {"requestId": REQUEST, "entity": "order", "count": 12},
}
# orderId of these may be null: a ticket nobody holds.
NULLABLE = {("ticket.updated", ("orderId",)), ("ticket.snapshot", ("orderId",))}

# Any JSON value, as the JSON text a publisher could have sent.
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=6,
).map(json.dumps)
# Numbers Python's json would never write but a peer might: exponents, huge, tiny, -0.
odd_numbers = st.sampled_from(
    ["1e999999999", "1e-999999999", "-0", "1E+2", "9" * 5000, "0.0000001", "1.000"]
)
any_json = json_values | odd_numbers
not_a_string = (st.none() | st.booleans() | st.integers() | st.floats()).map(json.dumps)


HEX24 = re.compile(r"[0-9a-fA-F]{24}")
bad_object_ids = (
    st.text().filter(lambda s: HEX24.fullmatch(s) is None).map(json.dumps)
    | st.sampled_from([OID[:-1], OID + "a", OID[:-1] + "g", OID + "\n", " " + OID]).map(json.dumps)
    | not_a_string
)
bad_versions = (
    st.integers(max_value=-1)
    | st.integers(min_value=2**63, max_value=2**70)
    | st.sampled_from([1.5, 2.0, "1", True, None])
).map(json.dumps) | st.sampled_from(["1e2", "1.0"])
bad_titles = (
    st.just("")
    | st.text(min_size=TITLE_MAX_LENGTH + 1, max_size=TITLE_MAX_LENGTH + 50)
    | st.just("\ud800")  # json.dumps writes it as the escape \ud800, a lone surrogate
).map(json.dumps) | not_a_string


def _cents_text(cents: int) -> str:
    return str(Decimal(cents) / 100)


bad_prices = (
    st.integers(min_value=-(10**6), max_value=MIN_PRICE_CENTS - 1).map(_cents_text)
    | st.integers(min_value=MAX_PRICE_CENTS + 1, max_value=10**12).map(_cents_text)
    # In bounds, but with a third decimal that is not 0.
    | st.integers(min_value=MIN_PRICE_CENTS * 10, max_value=MAX_PRICE_CENTS * 10 - 1)
    .filter(lambda mills: mills % 10 != 0)
    .map(lambda mills: str(Decimal(mills) / 1000))
    | st.sampled_from(["1e999999999", "1e-999999999", "NaN", "Infinity", "-Infinity"])
    | st.sampled_from(["9" * 5000, '"10.50"', "true", "null", "[]", "{}"])
)
bad_statuses = st.text().filter(lambda s: s not in ORDER_STATUSES).map(json.dumps) | not_a_string
bad_instants = (
    st.sampled_from(
        [
            "2021-01-16T16:31:30.047",  # no offset: which instant?
            "2021-01-16",
            "16:31:30Z",
            "0001-01-01T00:00:00+01:00",  # before the first instant datetime can hold
            "9999-12-31T23:59:59-01:00",  # after the last one
            "tomorrow",
            "",
        ]
    ).map(json.dumps)
    | not_a_string
)
bad_token_ids = (
    st.sampled_from(["", "short", "has space in it!", "a" * 129, "mI0bK3pDq2v9XgHs7YtZ1w\n"]).map(
        json.dumps
    )
    | not_a_string
)
bad_expiries = (
    st.integers(max_value=0) | st.integers(min_value=10**10) | st.sampled_from([1.5, "1", True])
).map(json.dumps)
bad_request_ids = (
    st.sampled_from(["", "short", "has space in it", "x" * 65, REQUEST + "\n"]).map(json.dumps)
    | not_a_string
)
bad_entities = st.text().filter(lambda s: s not in ("ticket", "order")).map(json.dumps)
bad_services = (
    st.sampled_from(["", "Orders", "or ders", "x" * 64, "orders\n"]).map(json.dumps) | not_a_string
)
bad_counts = (st.integers(max_value=-1) | st.sampled_from([1.5, "1", True, None])).map(json.dumps)
bad_stripe_ids = (
    st.sampled_from(["", "pi 1", "pi_1\n", "pi-1", "x" * 256]).map(json.dumps) | not_a_string
)


@dataclass(frozen=True)
class Rule:
    routing_key: str
    path: tuple[str, ...]  # the field's place in the wire object
    bad: st.SearchStrategy[str]  # JSON texts that break its rule

    def __str__(self) -> str:
        return f"{self.routing_key}:{'.'.join(self.path)}"


def _rules() -> list[Rule]:
    kinds: dict[str, st.SearchStrategy[str]] = {
        "id": bad_object_ids,
        "userId": bad_object_ids,
        "orderId": bad_object_ids,
        "version": bad_versions,
        "title": bad_titles,
        "price": bad_prices,
        "status": bad_statuses,
        "expiresAt": bad_instants,
        "stripeId": bad_stripe_ids,
        "jti": bad_token_ids,
        "exp": bad_expiries,
        "requestId": bad_request_ids,
        "entity": bad_entities | not_a_string,
        "requester": bad_services,
        "count": bad_counts,
    }
    rules: list[Rule] = []
    for key, body in VALID.items():
        for name, value in body.items():
            if isinstance(value, dict):
                rules.extend(Rule(key, (name, inner), kinds[inner]) for inner in value)
            else:
                rules.append(Rule(key, (name,), kinds[name]))
    return rules


RULES = _rules()


def body_with(routing_key: str, path: tuple[str, ...], value_json: str | None) -> bytes:
    """The valid body of ``routing_key`` with the field at ``path`` set to the JSON text
    ``value_json``, or left out when it is None."""
    body = json.loads(json.dumps(VALID[routing_key]))
    parent = body
    for name in path[:-1]:
        parent = parent[name]
    marker = "\x00value\x00"
    if value_json is None:
        del parent[path[-1]]
        return json.dumps(body).encode()
    parent[path[-1]] = marker
    # The value goes in as text, so numbers such as 1e999999999 arrive as written.
    return json.dumps(body).replace(json.dumps(marker), value_json).encode()


def test_every_contract_has_a_valid_sample_and_so_its_rules_tested() -> None:
    assert set(VALID) == set(EVENT_TYPES)


@pytest.mark.parametrize("routing_key", VALID)
def test_each_valid_sample_decodes(routing_key: str) -> None:
    assert isinstance(decode(routing_key, json.dumps(VALID[routing_key]).encode()), Event)


@pytest.mark.parametrize("rule", RULES, ids=str)
def test_a_missing_field_is_malformed_unless_it_is_the_optional_order_id(rule: Rule) -> None:
    body = body_with(rule.routing_key, rule.path, None)

    if rule.routing_key == "ticket.updated" and rule.path == ("orderId",):
        assert isinstance(decode(rule.routing_key, body), TicketUpdated)
    else:
        with pytest.raises(MalformedEvent, match=rule.path[-1]):
            decode(rule.routing_key, body)


@settings(max_examples=400)
@given(rule=st.sampled_from(RULES), data=st.data())
def test_a_value_that_breaks_its_field_rule_is_malformed_naming_the_field(
    rule: Rule, data: st.DataObject
) -> None:
    value = data.draw(rule.bad, label=str(rule))
    if (rule.routing_key, rule.path) in NULLABLE and value == "null":
        return  # a released ticket: null is the one non-id orderId may be
    body = body_with(rule.routing_key, rule.path, value)

    with pytest.raises(MalformedEvent) as refused:
        decode(rule.routing_key, body)
    # The body was fine apart from that field, so the refusal is about it (or the JSON).
    assert rule.path[-1] in str(refused.value) or "not valid JSON" in str(refused.value)


@settings(max_examples=400)
@given(rule=st.sampled_from(RULES), value=any_json)
def test_any_json_in_any_field_decodes_or_is_malformed_never_another_error(
    rule: Rule, value: str
) -> None:
    body = body_with(rule.routing_key, rule.path, value)

    try:
        event = decode(rule.routing_key, body)
    except MalformedEvent:
        return
    # Taken: then it is a value the field's rule allows.
    assert_within_rules(event)


@given(st.binary(max_size=64) | json_values.map(str.encode))
def test_any_body_decodes_or_is_malformed(body: bytes) -> None:
    for routing_key in VALID:
        with contextlib.suppress(MalformedEvent):
            assert_within_rules(decode(routing_key, body))


def assert_within_rules(event: Event) -> None:
    """Every id an ObjectId, every price and title in bounds, versions 0 or more."""
    fields = vars(event)
    for name in ("id", "user_id", "order_id"):
        if fields.get(name) is not None:
            assert HEX24.fullmatch(fields[name]), (name, fields[name])
    ticket = fields.get("ticket")
    if ticket is not None:
        assert HEX24.fullmatch(ticket.id), ticket
    if isinstance(event, TicketCreated | TicketUpdated):
        assert 1 <= len(event.title) <= TITLE_MAX_LENGTH
        assert MIN_PRICE_CENTS <= event.price_cents <= MAX_PRICE_CENTS
    if isinstance(event, OrderCreated):
        assert MIN_PRICE_CENTS <= event.ticket.price_cents <= MAX_PRICE_CENTS
        assert event.status in ORDER_STATUSES
    if "version" in fields:
        assert 0 <= fields["version"] < 2**63


object_ids = st.from_regex(HEX24, fullmatch=True)
prices = st.integers(min_value=MIN_PRICE_CENTS, max_value=MAX_PRICE_CENTS)
titles = st.text(min_size=1, max_size=TITLE_MAX_LENGTH)  # no surrogates by default
versions = st.integers(min_value=0, max_value=2**63 - 1)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
good_events: st.SearchStrategy[Event] = st.one_of(
    st.builds(TicketCreated, object_ids, versions, titles, prices, object_ids),
    st.builds(
        TicketUpdated, object_ids, versions, titles, prices, object_ids, st.none() | object_ids
    ),
    st.builds(
        OrderCreated,
        object_ids,
        versions,
        st.sampled_from(ORDER_STATUSES),
        object_ids,
        instants,
        st.builds(TicketRef, object_ids, prices),
    ),
)


@given(good_events)
def test_every_event_within_the_rules_round_trips(event: Event) -> None:
    assert decode(event.routing_key, encode(event)) == event
