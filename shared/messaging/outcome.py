"""What handling an event came to, for whoever counts (a replay): applied, or a duplicate.

Handlers return nothing, and the consumer needs nothing more: applied or not, it acks. A
replay reports how many events it applied and how many the service had already, so the
places that recognise a duplicate (the inbox's claim, a replica's version rule, an insert
that finds the entity there) say so with ``duplicate()``. Outside ``counting()`` that is a
no-op; inside, it is noted for the event being handled, whatever task the handler runs in
(tasks copy the context, and the note is shared).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

_current: ContextVar[Outcome | None] = ContextVar("event_outcome", default=None)


@dataclass
class Outcome:
    """The duplicates noted while one event was handled (empty: it was applied)."""

    duplicates: list[str] = field(default_factory=list)

    @property
    def duplicate(self) -> bool:
        return bool(self.duplicates)


def duplicate(why: str) -> None:
    """The event being handled changed nothing: its effect is there already (``why``)."""
    outcome = _current.get()
    if outcome is not None:
        outcome.duplicates.append(why)


@contextmanager
def one_attempt() -> Iterator[None]:
    """One attempt at the work (a transaction that may be re-run): should it fail, what it
    noted is forgotten, so that a re-run that applies is not counted a duplicate."""
    outcome = _current.get()
    kept = len(outcome.duplicates) if outcome is not None else 0
    try:
        yield
    except BaseException:
        if outcome is not None:
            del outcome.duplicates[kept:]
        raise


@contextmanager
def counting() -> Iterator[Outcome]:
    """Note what the handler called inside the block finds."""
    outcome = Outcome()
    token = _current.set(outcome)
    try:
        yield outcome
    finally:
        _current.reset(token)
