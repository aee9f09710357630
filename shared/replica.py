"""The version rules for a replica: which of another service's versions to apply.

A replica holds version ``v`` of an entity it copies. An event carrying ``v + 1`` is the
next one and applies; one carrying ``v`` or less was applied already (a duplicate); one
carrying more than ``v + 1`` is early: a version in between has not arrived yet, so it
waits (is retried later) instead of skipping that version's change.

A snapshot (``ticket.snapshot``, ``order.snapshot``) is different: it carries the whole
state at its version, so it needs none of the versions before it. It replaces what the
replica holds when it is newer, also jumping over versions that never arrived, and is
ignored when it is not (``takes_snapshot``). What a snapshot replaces is the owner's
fields only; what the replica's own service decided (which order holds a ticket, which
payment an order keeps) is never copied from one (docs/rebuild.md).

Also here: what a use case sees of its service's rebuilds (``RebuildLog``) and how an owner
answers one (``publish_snapshots``, through the unit of work it is given). No I/O of its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from enum import Enum
from typing import Protocol, TypeVar

from shared.events import Event, SnapshotCompleted, SnapshotRequested


class VersionStep(Enum):
    """How an incoming version relates to the one a replica holds."""

    NEXT = "next"  # the very next version: apply it
    SEEN = "seen"  # this version or a later one is applied already: a duplicate
    EARLY = "early"  # a version in between has not arrived yet: wait for it


def step(held: int | None, incoming: int) -> VersionStep:
    """Where ``incoming`` stands against ``held``; ``None`` (no replica yet) makes it early."""
    if held is None or incoming > held + 1:
        return VersionStep.EARLY
    if incoming == held + 1:
        return VersionStep.NEXT
    return VersionStep.SEEN


def takes_snapshot(held: int | None, incoming: int) -> bool:
    """Whether a snapshot at ``incoming`` replaces a replica at ``held`` (None: no replica).

    Only a newer one does: one at the version held or below tells nothing new, and taking
    it would undo the versions applied since it was read.
    """
    return held is None or incoming > held


class RebuildLog(Protocol):
    """What a service's use cases see of its replicas' rebuilds (``shared.messaging.rebuild``
    keeps them in the service's database, where each of its processes sees them)."""

    async def running(self) -> bool:
        """Whether a rebuild of one of this service's replicas is running now."""

    async def received(self, request_id: str, entity_id: str) -> None:
        """The snapshot of ``entity_id`` answering ``request_id`` was taken (or ignored)."""

    async def completed(self, request_id: str, count: int) -> None:
        """The owner published ``count`` snapshots for ``request_id``: the rebuild waits for
        that many receipts."""


class NoRebuilds:
    """``RebuildLog`` of a service that never rebuilds (the use-case tests): none runs."""

    async def running(self) -> bool:
        return False

    async def received(self, request_id: str, entity_id: str) -> None:
        return None

    async def completed(self, request_id: str, count: int) -> None:
        return None


class Emits(Protocol):
    """A transaction that announces events once it commits (every service's has ``emit``)."""

    async def emit(self, *events: Event, headers: Mapping[str, str] | None = None) -> list[str]:
        """Add ``events`` to the outbox in this transaction."""


Tx = TypeVar("Tx", bound=Emits)
Entity = TypeVar("Entity")
_Batch = tuple[int, str | None]  # how many a transaction published, and the last one's id


async def publish_snapshots(
    request: SnapshotRequested,
    *,
    run: Callable[[Callable[[Tx], Awaitable[_Batch]]], Awaitable[_Batch]],
    page: Callable[[Tx, str | None, int], Awaitable[Sequence[Entity]]],
    snapshot: Callable[[Entity], Event],
    batch_size: int,
) -> int:
    """An owner's answer to ``request``: every entity as its snapshot, through the outbox.

    ``run`` (a unit of work's) runs one transaction per ``batch_size`` entities, read by
    ``page(tx, after_id, limit)`` in id order, so a large store never builds one huge
    transaction; the last one also emits ``snapshot.completed`` with how many were
    published. Each batch reads its entities in the transaction that emits them, so a
    snapshot is an entity as it was committed, ordered after its earlier events (the
    outbox keeps one subject's events in order). Returns the count.
    """
    after: str | None = None
    published = 0
    while True:

        async def batch(tx: Tx, after: str | None = after, before: int = published) -> _Batch:
            events = [snapshot(entity) for entity in await page(tx, after, batch_size)]
            await tx.emit(*events)
            if len(events) < batch_size:
                count = before + len(events)
                await tx.emit(SnapshotCompleted(request.request_id, request.entity, count))
            return len(events), events[-1].subject if events else after

        done, after = await run(batch)
        published += done
        if done < batch_size:
            return published
