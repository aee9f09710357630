"""Contracts the tickets service owns: ``ticket.created``, ``ticket.updated`` and
``ticket.snapshot``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from marshmallow import fields, post_dump, post_load

from shared.events.base import ContractSchema, Event
from shared.events.fields import (
    OBJECT_ID,
    REQUEST_ID,
    TITLE_LENGTH,
    VERSION,
    Price,
    utf8_text,
)


@dataclass(frozen=True)
class TicketCreated(Event):
    """A ticket was put on sale (version 0)."""

    routing_key: ClassVar[str] = "ticket.created"

    id: str
    version: int
    title: str
    price_cents: int
    user_id: str


@dataclass(frozen=True)
class TicketUpdated(Event):
    """A ticket changed: title/price edited, or reserved (``order_id`` set) or released."""

    routing_key: ClassVar[str] = "ticket.updated"

    id: str
    version: int
    title: str
    price_cents: int
    user_id: str
    order_id: str | None = None


class TicketCreatedSchema(ContractSchema):
    """Wire form ``{id, version, title, price, userId}``."""

    id = fields.String(required=True, validate=OBJECT_ID)
    version = fields.Integer(required=True, strict=True, validate=VERSION)
    title = fields.String(required=True, validate=[TITLE_LENGTH, utf8_text])
    price_cents = Price(required=True, data_key="price")
    user_id = fields.String(required=True, data_key="userId", validate=OBJECT_ID)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> TicketCreated:
        return TicketCreated(**data)


class TicketUpdatedSchema(TicketCreatedSchema):
    """Wire form ``{id, version, title, price, userId, orderId?}``; orderId may be null."""

    order_id = fields.String(
        data_key="orderId", allow_none=True, load_default=None, validate=OBJECT_ID
    )

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> TicketUpdated:
        return TicketUpdated(**data)

    @post_dump
    def _omit_missing_order(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        # The original sent `orderId: undefined`, i.e. no key at all, when released.
        if data.get("orderId") is None:
            data.pop("orderId", None)
        return data


@dataclass(frozen=True)
class TicketSnapshot(Event):
    """A ticket's whole state at ``version``, re-published by its owner on request.

    A replica takes it only when ``version`` is above what it holds (``shared.replica``);
    ``request_id`` names the ``snapshot.requested`` it answers.
    """

    routing_key: ClassVar[str] = "ticket.snapshot"

    id: str
    version: int
    title: str
    price_cents: int
    user_id: str
    order_id: str | None
    request_id: str


class TicketSnapshotSchema(TicketCreatedSchema):
    """Wire form ``{id, version, title, price, userId, orderId, requestId}``: every field,
    ``orderId`` null for a ticket nobody holds."""

    order_id = fields.String(required=True, data_key="orderId", allow_none=True, validate=OBJECT_ID)
    request_id = fields.String(required=True, data_key="requestId", validate=REQUEST_ID)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> TicketSnapshot:
        return TicketSnapshot(**data)
