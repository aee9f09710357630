"""The contract the expiration service owns: ``expiration.complete``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from marshmallow import fields, post_load

from shared.events.base import ContractSchema, Event
from shared.events.fields import OBJECT_ID


@dataclass(frozen=True)
class ExpirationComplete(Event):
    """An order's reservation time ran out."""

    routing_key: ClassVar[str] = "expiration.complete"
    subject_field: ClassVar[str] = "order_id"  # news about the order, in order

    order_id: str


class ExpirationCompleteSchema(ContractSchema):
    """Wire form ``{orderId}``."""

    order_id = fields.String(required=True, data_key="orderId", validate=OBJECT_ID)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> ExpirationComplete:
        return ExpirationComplete(**data)
