"""Event contracts: one frozen dataclass and one marshmallow schema per routing key.

Services meet only here. Attributes are snake_case; the wire is camelCase JSON
(spec §9.1), money is integer cents inside and a two-decimal number outside.
"""

from shared.events.base import Event, MalformedEvent
from shared.events.codec import EVENT_TYPES, decode, encode
from shared.events.expiration import ExpirationComplete
from shared.events.fields import Money, UtcDateTime
from shared.events.orders import (
    ORDER_STATUSES,
    OrderCancelled,
    OrderCreated,
    OrderSnapshot,
    OrderStatus,
    TicketId,
    TicketRef,
)
from shared.events.payments import PaymentCreated
from shared.events.sessions import SessionRevoked
from shared.events.snapshots import SNAPSHOT_ENTITIES, SnapshotCompleted, SnapshotRequested
from shared.events.tickets import TicketCreated, TicketSnapshot, TicketUpdated

__all__ = [
    "EVENT_TYPES",
    "ORDER_STATUSES",
    "SNAPSHOT_ENTITIES",
    "Event",
    "ExpirationComplete",
    "MalformedEvent",
    "Money",
    "OrderCancelled",
    "OrderCreated",
    "OrderSnapshot",
    "OrderStatus",
    "PaymentCreated",
    "SessionRevoked",
    "SnapshotCompleted",
    "SnapshotRequested",
    "TicketCreated",
    "TicketId",
    "TicketRef",
    "TicketSnapshot",
    "TicketUpdated",
    "UtcDateTime",
    "decode",
    "encode",
]
