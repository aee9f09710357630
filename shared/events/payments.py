"""The contract the payments service owns: ``payment.created``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from marshmallow import EXCLUDE, Schema, fields, post_load, validate

from shared.events.base import Event

_ID = validate.Length(min=1)


@dataclass(frozen=True)
class PaymentCreated(Event):
    """An order was paid; ``stripe_id`` names the Stripe object that took the money."""

    routing_key: ClassVar[str] = "payment.created"

    id: str
    order_id: str
    stripe_id: str


class PaymentCreatedSchema(Schema):
    """Wire form ``{id, orderId, stripeId}``."""

    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, validate=_ID)
    order_id = fields.String(required=True, data_key="orderId", validate=_ID)
    stripe_id = fields.String(required=True, data_key="stripeId", validate=_ID)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> PaymentCreated:
        return PaymentCreated(**data)
