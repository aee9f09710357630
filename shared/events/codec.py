"""Turning events into message bodies and back: the only (de)serialisation path."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError

from shared.events.base import Event, MalformedEvent
from shared.events.expiration import ExpirationComplete, ExpirationCompleteSchema
from shared.events.orders import (
    OrderCancelled,
    OrderCancelledSchema,
    OrderCreated,
    OrderCreatedSchema,
    OrderSnapshot,
    OrderSnapshotSchema,
)
from shared.events.payments import PaymentCreated, PaymentCreatedSchema
from shared.events.sessions import SessionRevoked, SessionRevokedSchema
from shared.events.snapshots import (
    SnapshotCompleted,
    SnapshotCompletedSchema,
    SnapshotRequested,
    SnapshotRequestedSchema,
)
from shared.events.tickets import (
    TicketCreated,
    TicketCreatedSchema,
    TicketSnapshot,
    TicketSnapshotSchema,
    TicketUpdated,
    TicketUpdatedSchema,
)

_SCHEMAS: dict[type[Event], Schema] = {
    TicketCreated: TicketCreatedSchema(),
    TicketUpdated: TicketUpdatedSchema(),
    OrderCreated: OrderCreatedSchema(),
    OrderCancelled: OrderCancelledSchema(),
    ExpirationComplete: ExpirationCompleteSchema(),
    PaymentCreated: PaymentCreatedSchema(),
    SessionRevoked: SessionRevokedSchema(),
    TicketSnapshot: TicketSnapshotSchema(),
    OrderSnapshot: OrderSnapshotSchema(),
    SnapshotRequested: SnapshotRequestedSchema(),
    SnapshotCompleted: SnapshotCompletedSchema(),
}

EVENT_TYPES: dict[str, type[Event]] = {cls.routing_key: cls for cls in _SCHEMAS}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def encode(event: Event) -> bytes:
    """The compact camelCase JSON body of ``event``."""
    schema = _SCHEMAS.get(type(event))
    if schema is None:
        raise TypeError(f"{type(event).__name__} is not a registered event contract")
    return json.dumps(schema.dump(event), separators=(",", ":"), ensure_ascii=False).encode()


def decode(routing_key: str, body: bytes) -> Event:
    """The event a message carries; ``MalformedEvent`` for an unknown key or a bad body."""
    event_type = EVENT_TYPES.get(routing_key)
    if event_type is None:
        raise MalformedEvent(f"unknown event type {routing_key!r}")
    try:
        # Decimal keeps the number's exact text, so a price is judged on what was sent.
        payload = json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    except ValueError as exc:
        raise MalformedEvent(f"{routing_key}: body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise MalformedEvent(f"{routing_key}: body must be a JSON object")
    try:
        event = _SCHEMAS[event_type].load(payload)
    except ValidationError as exc:
        raise MalformedEvent(f"{routing_key}: {exc.messages}") from exc
    except (TypeError, ValueError) as exc:
        raise MalformedEvent(f"{routing_key}: {exc}") from exc
    if not isinstance(event, event_type):  # pragma: no cover - schemas build their own type
        raise MalformedEvent(f"{routing_key}: schema built {type(event).__name__}")
    return event
