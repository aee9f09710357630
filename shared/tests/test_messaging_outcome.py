"""What handling an event came to (shared.messaging.outcome) across the re-runs of a unit of
work: an attempt that conflicted leaves none of its notes behind."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared.errors import Conflict
from shared.messaging import Outbox, UnitOfWork
from shared.messaging.outcome import Outcome, counting, duplicate, one_attempt
from shared.mongo import Mongo


async def counted_run(mongo: Mongo, *attempts: Callable[[], None]) -> Outcome:
    """``UnitOfWork.run`` of work whose n-th attempt does ``attempts[n]``, under ``counting``."""
    uow = UnitOfWork(mongo, Outbox(mongo.db))
    tried = 0

    async def work(_tx: object) -> None:
        nonlocal tried
        tried += 1
        attempts[tried - 1]()

    with counting() as seen:
        await uow.run(work)
    assert tried == len(attempts)
    return seen


def conflict() -> None:
    raise Conflict("another writer won")


async def test_a_retry_that_applies_after_an_attempt_that_saw_a_duplicate_is_applied(
    mongo: Mongo,
) -> None:
    def stale() -> None:
        # What this attempt read was stale: another writer committed meanwhile.
        duplicate("seen by an attempt that then lost the race")
        conflict()

    seen = await counted_run(mongo, stale, lambda: None)

    assert not seen.duplicate


async def test_a_retry_that_finds_the_effect_there_is_still_a_duplicate(mongo: Mongo) -> None:
    seen = await counted_run(mongo, conflict, lambda: duplicate("the other writer did it"))

    assert seen.duplicates == ["the other writer did it"]


def lost_attempt() -> None:
    with one_attempt():
        duplicate("inside the attempt")
        raise Conflict("lost")


def test_a_failed_attempt_forgets_only_its_own_notes() -> None:
    with counting() as seen:
        duplicate("before the attempt")
        with pytest.raises(Conflict):
            lost_attempt()
        with one_attempt():
            duplicate("a clean attempt")

    assert seen.duplicates == ["before the attempt", "a clean attempt"]
