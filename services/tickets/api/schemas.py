"""Bodies of /api/tickets. Price is a JSON number (or numeric string) outside, cents inside:
``price`` in JSON, ``price_cents`` from the schema on. Loading gives a typed command."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_dump, post_load

from services.tickets.service import EditTicket, SellTicket
from shared.events import Money
from shared.events.fields import (
    MAX_PRICE_CENTS,
    MIN_PRICE_CENTS,
    TITLE_MAX_LENGTH,
    NotAPositiveNumber,
    price_to_cents,
    utf8_text,
)
from shared.web import RequestSchema

TITLE_REQUIRED = "Title is required"


class Title(fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        title = str(super()._deserialize(value, attr, data, **kwargs)).strip()
        if not title:
            raise ValidationError(TITLE_REQUIRED)
        if len(title) > TITLE_MAX_LENGTH:
            raise ValidationError(f"Title must be at most {TITLE_MAX_LENGTH} characters")
        utf8_text(title)  # "\ud800" in JSON: no BSON string can hold it
        return title


# A price given as text: digits, and at most two decimals. No sign, exponent, blank or
# underscore: "1e-999999999" would be 0 and "1_000" would be 1000 to Python's parsers.
PRICE_TEXT = re.compile(r"[0-9]+(\.[0-9]{1,2})?")


class Price(fields.Field[int]):
    """An amount from 0.50 to 100,000.00 with at most two decimals, given as a JSON number
    or as plain decimal text ("10.50")."""

    def __init__(self, positive_message: str, **kwargs: Any) -> None:
        messages: dict[str, Any] = {"required": positive_message, "null": positive_message}
        super().__init__(required=True, error_messages=messages, **kwargs)
        self.positive_message = positive_message

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str):
            if not PRICE_TEXT.fullmatch(value):
                raise ValidationError(self.positive_message)
            value = Decimal(value)
        # The bounds and decimals are the events' rule too (shared.events.fields).
        try:
            return price_to_cents(value)
        except NotAPositiveNumber:
            raise ValidationError(self.positive_message) from None
        except ValueError as exc:
            raise ValidationError(f"Price {exc}") from None


def _title() -> Title:
    messages: dict[str, Any] = {
        "required": TITLE_REQUIRED,
        "null": TITLE_REQUIRED,
        "invalid": TITLE_REQUIRED,
    }
    # Title checks its length itself, so the OpenAPI document is told here.
    docs = {"minLength": 1, "maxLength": TITLE_MAX_LENGTH, "description": "Trimmed"}
    return Title(required=True, error_messages=messages, metadata=docs)


# Price is a plain Field (it takes numbers and numeric strings), so its OpenAPI type is
# stated here.
PRICE_DOCS = {
    "type": "number",
    "minimum": MIN_PRICE_CENTS / 100,
    "maximum": MAX_PRICE_CENTS // 100,
    "multipleOf": 0.01,
    "description": 'At most two decimals; plain decimal text such as "10.00" is accepted too',
}


class CreateTicketIn(RequestSchema):
    title = _title()
    price_cents = Price("Price must be greater than 0", data_key="price", metadata=PRICE_DOCS)

    @post_load
    def _command(self, data: dict[str, Any], **_: Any) -> SellTicket:
        return SellTicket(title=data["title"], price_cents=data["price_cents"])


class UpdateTicketIn(RequestSchema):
    title = _title()
    price_cents = Price(
        "Price must be provided and greater than 0", data_key="price", metadata=PRICE_DOCS
    )

    @post_load
    def _command(self, data: dict[str, Any], **_: Any) -> EditTicket:
        return EditTicket(title=data["title"], price_cents=data["price_cents"])


class TicketOut(Schema):
    # required: in the OpenAPI document, every answer has these (dumping ignores it).
    id = fields.String(required=True)
    title = fields.String(required=True)
    price = Money(attribute="price_cents", required=True)
    userId = fields.String(attribute="user_id", required=True)
    version = fields.Integer(required=True)
    orderId = fields.String(
        attribute="order_id",
        allow_none=True,
        metadata={"description": "The order holding the ticket; absent while it is free"},
    )

    @post_dump
    def _drop_empty_order(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        # As the original: orderId appears only while the ticket is reserved.
        if data.get("orderId") is None:
            data.pop("orderId", None)
        return data
