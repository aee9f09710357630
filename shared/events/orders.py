"""Contracts the orders service owns: ``order.created``, ``order.cancelled`` and
``order.snapshot``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from marshmallow import fields, post_load, validate

from shared.events.base import ContractSchema, Event
from shared.events.fields import OBJECT_ID, REQUEST_ID, VERSION, Price, UtcDateTime


class OrderStatus(StrEnum):
    """An order's status, spec §2.4: the exact strings of the wire and of every store."""

    CREATED = "created"  # holds its ticket, unpaid, until it expires
    CANCELLED = "cancelled"  # by its buyer or by expiry; the ticket is free again
    # No code sets it (spec §2.4: orders go created -> cancelled or created -> complete),
    # but the spec's enum has it and an `order.created` may carry it: dropping it would
    # change what the event contract accepts, which this refactor must not.
    AWAITING_PAYMENT = "awaiting:payment"
    COMPLETE = "complete"  # paid for: it keeps its ticket for good


# The wire strings, for validators and the OpenAPI enum.
ORDER_STATUSES = tuple(status.value for status in OrderStatus)


@dataclass(frozen=True)
class TicketRef:
    """The ticket an order holds, with the price it was reserved at."""

    id: str
    price_cents: int


@dataclass(frozen=True)
class TicketId:
    """Just the ticket's id: all a cancellation needs to release it."""

    id: str


def _utc_milliseconds(event: Event, instant: datetime) -> datetime:
    """``instant`` in UTC to the millisecond; ValueError for a naive one."""
    if instant.tzinfo is None:
        raise ValueError(f"{type(event).__name__}.expires_at must be timezone-aware")
    # The wire and BSON both keep milliseconds; trimming here makes an event
    # equal to itself after a round trip through either.
    instant = instant.astimezone(UTC)
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class _OrderState(Event):
    """What ``order.created`` and ``order.snapshot`` both tell of an order."""

    id: str
    version: int
    status: OrderStatus
    user_id: str
    expires_at: datetime
    ticket: TicketRef

    def __post_init__(self) -> None:
        object.__setattr__(self, "expires_at", _utc_milliseconds(self, self.expires_at))


@dataclass(frozen=True)
class OrderCreated(_OrderState):
    """An order reserved a ticket until ``expires_at`` (tz-aware UTC)."""

    routing_key: ClassVar[str] = "order.created"


@dataclass(frozen=True)
class OrderCancelled(Event):
    """An order was cancelled (by its user or by expiry); its ticket is free again."""

    routing_key: ClassVar[str] = "order.cancelled"

    id: str
    version: int
    ticket: TicketId


class TicketRefSchema(ContractSchema):
    id = fields.String(required=True, validate=OBJECT_ID)
    price_cents = Price(required=True, data_key="price")

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> TicketRef:
        return TicketRef(**data)


class TicketIdSchema(ContractSchema):
    id = fields.String(required=True, validate=OBJECT_ID)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> TicketId:
        return TicketId(**data)


class OrderCreatedSchema(ContractSchema):
    """Wire form ``{id, version, status, userId, expiresAt, ticket: {id, price}}``."""

    id = fields.String(required=True, validate=OBJECT_ID)
    version = fields.Integer(required=True, strict=True, validate=VERSION)
    status = fields.String(required=True, validate=validate.OneOf(ORDER_STATUSES))
    user_id = fields.String(required=True, data_key="userId", validate=OBJECT_ID)
    expires_at = UtcDateTime(required=True, data_key="expiresAt")
    ticket = fields.Nested(TicketRefSchema, required=True)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> OrderCreated:
        return OrderCreated(**{**data, "status": OrderStatus(data["status"])})


class OrderCancelledSchema(ContractSchema):
    """Wire form ``{id, version, ticket: {id}}``."""

    id = fields.String(required=True, validate=OBJECT_ID)
    version = fields.Integer(required=True, strict=True, validate=VERSION)
    ticket = fields.Nested(TicketIdSchema, required=True)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> OrderCancelled:
        return OrderCancelled(**data)


@dataclass(frozen=True)
class OrderSnapshot(_OrderState):
    """An order's whole state at ``version``, re-published by orders on request.

    A replica takes it only when ``version`` is above what it holds (``shared.replica``);
    ``request_id`` names the ``snapshot.requested`` it answers.
    """

    routing_key: ClassVar[str] = "order.snapshot"

    request_id: str


class OrderSnapshotSchema(OrderCreatedSchema):
    """Wire form ``{id, version, status, userId, expiresAt, ticket: {id, price}, requestId}``."""

    request_id = fields.String(required=True, data_key="requestId", validate=REQUEST_ID)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> OrderSnapshot:
        return OrderSnapshot(**{**data, "status": OrderStatus(data["status"])})
