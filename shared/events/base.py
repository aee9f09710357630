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
    """An immutable fact one service tells the others; ``routing_key`` names its contract.

    ``subject`` is the id of the thing the event is about (``subject_field`` names the
    attribute): the events of one subject are published in the order they were written.
    """

    routing_key: ClassVar[str]
    subject_field: ClassVar[str] = "id"

    @property
    def subject(self) -> str:
        return str(getattr(self, self.subject_field))


class ContractSchema(Schema):
    """Base of every wire schema: unknown fields are ignored, so a publisher may add fields."""

    class Meta:
        unknown = EXCLUDE
