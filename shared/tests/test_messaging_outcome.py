"""What handling an event came to (shared.messaging.outcome) across the re-runs of a unit of
work: an attempt that conflicted leaves none of its notes behind."""

from __future__ import annotations

import pytest

from shared.errors import Conflict
from shared.messaging import Outbox, UnitOfWork
from shared.messaging.outcome import counting, duplicate, one_attempt
from shared.mongo import Mongo


async def test_a_retry_that_applies_after_an_attempt_that_saw_a_duplicate_is_applied(
    mongo: Mongo,
) -> None:
    uow = UnitOfWork(mongo, Outbox(mongo.db))
    attempts = 0

    async def work(_tx: object) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            # What the first attempt read was stale: another writer committed meanwhile.
            duplicate("seen by an attempt that then lost the race")
            raise Conflict("another writer won")

    with counting() as seen:
        await uow.run(work)

    assert attempts == 2
    assert not seen.duplicate


async def test_a_retry_that_finds_the_effect_there_is_still_a_duplicate(mongo: Mongo) -> None:
    uow = UnitOfWork(mongo, Outbox(mongo.db))
    attempts = 0

    async def work(_tx: object) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise Conflict("another writer won")
        duplicate("the other writer did it")

    with counting() as seen:
        await uow.run(work)

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
