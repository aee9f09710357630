"""The contract the payments service owns: ``payment.created``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from marshmallow import fields, post_load

from shared.events.base import ContractSchema, Event
from shared.events.fields import OBJECT_ID, STRIPE_ID


@dataclass(frozen=True)
class PaymentCreated(Event):
    """An order was paid; ``stripe_id`` names the Stripe object that took the money."""

    routing_key: ClassVar[str] = "payment.created"
    subject_field: ClassVar[str] = "order_id"  # news about the order, in order

    id: str
    order_id: str
    stripe_id: str


class PaymentCreatedSchema(ContractSchema):
    """Wire form ``{id, orderId, stripeId}``."""

    id = fields.String(required=True, validate=OBJECT_ID)
    order_id = fields.String(required=True, data_key="orderId", validate=OBJECT_ID)
    stripe_id = fields.String(required=True, data_key="stripeId", validate=STRIPE_ID)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> PaymentCreated:
        return PaymentCreated(**data)
