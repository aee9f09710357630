"""The base of every event contract and the one error a bad message raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class MalformedEvent(ValueError):
    """A message that is not a valid event: unknown key, bad JSON or a failing field."""


@dataclass(frozen=True)
class Event:
    """An immutable fact one service tells the others; ``routing_key`` names its contract."""

    routing_key: ClassVar[str]
