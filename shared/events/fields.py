"""Wire fields shared by the contracts: money as a decimal number, instants as ISO UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import ValidationError, fields

_CENTS = Decimal(100)


def cents_to_number(cents: int) -> int | float:
    """``1050`` → ``10.5``, ``1000`` → ``10``: the JSON number the wire carries."""
    whole, rest = divmod(cents, 100)
    if rest == 0:
        return whole
    # The division is exact in Decimal; the float built from its text is the
    # nearest double, whose repr is that same two-decimal text.
    return float(Decimal(cents) / _CENTS)


def number_to_cents(value: object) -> int:
    """The integer cents of a JSON number with at most two decimals; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a number")
    try:
        # str() of a float is its shortest round-trip text, so 10.555 stays 10.555
        # instead of becoming 10.55499999... as Decimal(float) would.
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise ValueError("must be a number") from None
    if not amount.is_finite():
        raise ValueError("must be a finite number")
    if amount < 0:
        raise ValueError("must not be negative")
    try:
        cents = amount.scaleb(2)
        exact = cents == cents.to_integral_value()
    except InvalidOperation:
        raise ValueError("is out of range") from None
    if not exact:
        raise ValueError("must have at most two decimals")
    return int(cents)


class Money(fields.Field[int]):
    """Integer cents inside, a JSON number with at most two decimals on the wire."""

    def _serialize(self, value: int | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        return cents_to_number(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        try:
            return number_to_cents(value)
        except ValueError as exc:
            raise ValidationError(f"Not a valid price: {exc}.") from exc


def to_utc_text(value: datetime) -> str:
    """``2021-01-16T16:31:30.047Z``: UTC, millisecond precision, ``Z`` suffix."""
    if value.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z"


def from_utc_text(text: object) -> datetime:
    """A tz-aware UTC datetime from an ISO-8601 string with an offset or ``Z``."""
    if not isinstance(text, str):
        raise ValueError("must be an ISO-8601 string")
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("must carry a UTC offset or Z")
    return parsed.astimezone(UTC)


class UtcDateTime(fields.Field[datetime]):
    """A tz-aware datetime inside, an ISO-8601 UTC string ending in ``Z`` on the wire."""

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        return to_utc_text(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        try:
            return from_utc_text(value)
        except ValueError as exc:
            raise ValidationError(f"Not a valid UTC datetime: {exc}.") from exc
