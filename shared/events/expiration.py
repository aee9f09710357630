"""The contract the expiration service owns: ``expiration.complete``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from marshmallow import EXCLUDE, Schema, fields, post_load, validate

from shared.events.base import Event


@dataclass(frozen=True)
class ExpirationComplete(Event):
    """An order's reservation time ran out."""

    routing_key: ClassVar[str] = "expiration.complete"

    order_id: str


class ExpirationCompleteSchema(Schema):
    """Wire form ``{orderId}``."""

    class Meta:
        unknown = EXCLUDE

    order_id = fields.String(required=True, data_key="orderId", validate=validate.Length(min=1))

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> ExpirationComplete:
        return ExpirationComplete(**data)
