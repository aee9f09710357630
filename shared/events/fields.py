"""Wire fields shared by the contracts, and the rules a request schema shares with them.

Money is a decimal number on the wire, instants are ISO UTC text, ids are ObjectIds. Each
rule (an id's form, a price's bounds, a title's length, a version's range) is stated once
here: the events' schemas use it, and so do the request schemas that take the same value.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import ValidationError, fields, validate

_CENTS = Decimal(100)

# What MongoDB makes: 24 hex digits. The id of every user, ticket, order and payment.
_OBJECT_ID = "[0-9a-fA-F]{24}"
OBJECT_ID_PATTERN = f"^{_OBJECT_ID}$"  # for OpenAPI (ECMA-262: $ is the very end)
# \A and \Z: Python's `$` would also match before a trailing newline.
OBJECT_ID = validate.Regexp(rf"\A{_OBJECT_ID}\Z", error="Not an ObjectId (24 hex digits).")

# Stripe's object ids: a prefix, an underscore and letters or digits (pi_3Mtw...), at most
# 255 characters by Stripe's documentation.
STRIPE_ID = validate.Regexp(r"\A[A-Za-z0-9_]{1,255}\Z", error="Not a Stripe id.")

# A snapshot request's id: what uuid4().hex makes, with room for other generators.
REQUEST_ID = validate.Regexp(r"\A[A-Za-z0-9_-]{8,64}\Z", error="Not a valid request id.")

# A version counts saves from 0; BSON stores it as a signed 64-bit integer.
VERSION = validate.Range(min=0, max=2**63 - 1)


def utf8_text(text: str) -> None:
    """Refuse text UTF-8 cannot carry: JSON's "\\ud800" decodes to a lone surrogate, which
    BSON (and every encoder after it) refuses."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("Not valid Unicode text.") from None


TITLE_MAX_LENGTH = 200
TITLE_LENGTH = validate.Length(min=1, max=TITLE_MAX_LENGTH)

MIN_PRICE_CENTS = 50  # Stripe's smallest USD charge: a cheaper ticket could never be paid for
MAX_PRICE_CENTS = 10_000_000  # 100,000.00: a bound, so a typo cannot list a ticket at 1e300


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


class NotAPositiveNumber(ValueError):
    """A price that is not a number at all, or not above zero."""


def price_to_cents(value: object) -> int:
    """The cents of a price: a number from 0.50 to 100,000.00 with at most two decimals.

    ``NotAPositiveNumber`` for a value that is no number or not above 0, ``ValueError``
    saying which other rule it breaks; the text reads after "Price ".
    """
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise NotAPositiveNumber("must be a number greater than 0")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except ValueError:  # an int too long for str() (over 4300 digits)
        raise NotAPositiveNumber("must be a number greater than 0") from None
    if not amount.is_finite() or amount <= 0:
        raise NotAPositiveNumber("must be a number greater than 0")
    # Bounds first: they keep the arithmetic below on numbers of a sane size
    # (int() of 1e999999999 cents would build a billion-digit integer).
    if amount > Decimal(MAX_PRICE_CENTS) / _CENTS:
        raise ValueError(f"must be at most {MAX_PRICE_CENTS // 100}")
    if amount < Decimal(MIN_PRICE_CENTS) / _CENTS:
        raise ValueError(f"must be at least {MIN_PRICE_CENTS / 100:.2f}")
    try:
        return number_to_cents(amount)
    except ValueError:
        raise ValueError("must have at most 2 decimals") from None


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


class Price(Money):
    """A ticket's price on the wire: a JSON number from 0.50 to 100,000.00 (``price_to_cents``)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        try:
            return price_to_cents(value)
        except ValueError as exc:
            raise ValidationError(f"Not a valid price: price {exc}.") from exc


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
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first instant datetime has
        raise ValueError("is out of range") from None


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
