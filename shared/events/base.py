"""The base of every event contract and its schema, and the one error a bad message raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from marshmallow import EXCLUDE, Schema, validate

# An id on the wire is a string; the empty string is no id.
NON_EMPTY = validate.Length(min=1)


class MalformedEvent(ValueError):
    """A message that is not a valid event: unknown key, bad JSON or a failing field."""


@dataclass(frozen=True)
class Event:
    """An immutable fact one service tells the others; ``routing_key`` names its contract."""

    routing_key: ClassVar[str]


class ContractSchema(Schema):
    """Base of every wire schema: unknown fields are ignored, so a publisher may add fields."""

    class Meta:
        unknown = EXCLUDE
