"""Bodies of /api/orders. The order embeds its ticket, as the original's populate did."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load

from services.orders.service import PlaceOrder
from shared.events import ORDER_STATUSES, Money
from shared.events.fields import OBJECT_ID, UtcDateTime
from shared.web import OBJECT_ID_PATTERN, RequestSchema

TICKET_ID_REQUIRED = "TicketId must be provided"


class TicketIdField(fields.String):
    """A ticket id as the tickets service makes them (an ObjectId's 24 hex digits)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        ticket_id = str(super()._deserialize(value, attr, data, **kwargs)).strip()
        try:
            OBJECT_ID(ticket_id)  # the events' rule for every id
        except ValidationError:
            raise ValidationError(TICKET_ID_REQUIRED) from None
        return ticket_id


class CreateOrderIn(RequestSchema):
    ticket_id = TicketIdField(
        required=True,
        data_key="ticketId",
        error_messages={
            "required": TICKET_ID_REQUIRED,
            "null": TICKET_ID_REQUIRED,
            "invalid": TICKET_ID_REQUIRED,
        },
        metadata={"pattern": OBJECT_ID_PATTERN, "description": "The ticket's id, an ObjectId"},
    )

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> PlaceOrder:
        return PlaceOrder(**data)


# required: in the OpenAPI document, every answer has these (dumping ignores it).
class TicketOut(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    price = Money(attribute="price_cents", required=True)
    version = fields.Integer(required=True)


class OrderOut(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": list(ORDER_STATUSES)})
    userId = fields.String(attribute="user_id", required=True)
    expiresAt = UtcDateTime(attribute="expires_at", required=True)
    ticket = fields.Nested(TicketOut, required=True)
    version = fields.Integer(required=True)
