"""The one recall/remember step (``run_once``) against the in-memory ``Results`` twin.

The Mongo ``Results`` runs the same rules in each service's contract tests.
"""

from dataclasses import dataclass

import pytest

from shared.errors import Conflict
from shared.idempotency import IdempotencyKey, IdempotencyKeyReused, fingerprint, run_once
from shared.idempotency.memory import InMemoryResults

KEY = IdempotencyKey(scope="u1 POST /things", key="k1", fingerprint="f1")


class Work:
    """A use case's work that counts its runs and returns the next number."""

    def __init__(self) -> None:
        self.runs = 0

    async def __call__(self) -> int:
        self.runs += 1
        return self.runs


async def test_a_repeated_key_gets_the_first_result_without_running_again() -> None:
    results = InMemoryResults[int]({})
    work = Work()
    first = await run_once(results, KEY, work)
    again = await run_once(results, KEY, work)
    assert (first, again, work.runs) == (1, 1, 1)


async def test_without_a_key_the_work_runs_every_time() -> None:
    results = InMemoryResults[int]({})
    work = Work()
    assert [await run_once(results, None, work) for _ in range(2)] == [1, 2]


async def test_a_result_not_kept_is_not_remembered() -> None:
    results = InMemoryResults[int]({})
    work = Work()
    await run_once(results, KEY, work, keep=lambda n: n > 1)
    assert await run_once(results, KEY, work, keep=lambda n: n > 1) == 2
    assert await run_once(results, KEY, work) == 2


async def test_the_key_with_another_request_is_refused() -> None:
    results = InMemoryResults[int]({})
    await run_once(results, KEY, Work())
    other = IdempotencyKey(scope=KEY.scope, key=KEY.key, fingerprint="f2")
    with pytest.raises(IdempotencyKeyReused):
        await run_once(results, other, Work())


async def test_a_concurrent_first_use_that_committed_first_is_a_conflict() -> None:
    records: dict[str, tuple[str, int]] = {}
    results = InMemoryResults(records)

    async def raced() -> int:
        records[KEY.record_id] = (KEY.fingerprint, 7)  # the other request commits meanwhile
        return 1

    with pytest.raises(Conflict):
        await run_once(results, KEY, raced)


def test_a_command_has_the_fingerprint_of_the_body_it_was_loaded_from() -> None:
    @dataclass(frozen=True)
    class PlaceThing:
        thing_id: str
        count: int

    assert fingerprint(PlaceThing("t1", 2)) == fingerprint({"count": 2, "thing_id": "t1"})
    assert fingerprint(PlaceThing("t1", 2)) != fingerprint(PlaceThing("t1", 3))
