import asyncio

import pytest

from services.auth.adapters.passwords import HashingBusy, PasswordHasher
from services.auth.config import HashingSettings
from services.auth.tests.hashing import HashProbe
from shared.testing.poll import eventually


def hasher(probe: HashProbe, *, concurrency: int, wait_s: float = 30.0) -> PasswordHasher:
    settings = HashingSettings(scrypt_log2_n=14, concurrency=concurrency, wait_s=wait_s)
    return PasswordHasher(settings, around_hash=probe)


async def test_at_most_concurrency_hashes_run_at_once_and_the_rest_wait_their_turn() -> None:
    probe = HashProbe(holding=True)
    passwords = hasher(probe, concurrency=3)

    hashes = [asyncio.create_task(passwords.hash(f"password-{i}")) for i in range(10)]
    await eventually(lambda: probe.running == 3 and passwords.waiting == 7, what="3 run, 7 wait")
    probe.release()
    stored = await asyncio.gather(*hashes)

    assert probe.peak == 3
    assert probe.ran == 10
    checks = [await passwords.check(f"password-{i}", s) for i, s in enumerate(stored)]
    assert all(check.matches for check in checks)


async def test_a_caller_that_waits_too_long_for_a_slot_gets_a_503() -> None:
    probe = HashProbe(holding=True)
    passwords = hasher(probe, concurrency=1, wait_s=0.05)
    first = asyncio.create_task(passwords.hash("password-1"))
    await eventually(lambda: probe.running == 1, what="the first hash running")

    with pytest.raises(HashingBusy) as busy:
        await passwords.hash("password-2")

    assert busy.value.status == 503
    assert passwords.waiting == 0
    probe.release()
    assert (await passwords.check("password-1", await first)).matches


async def test_a_cancelled_callers_hash_keeps_its_slot_until_its_thread_is_done() -> None:
    probe = HashProbe(holding=True)
    passwords = hasher(probe, concurrency=1)
    abandoned = asyncio.create_task(passwords.hash("password-1"))
    await eventually(lambda: probe.running == 1, what="the first hash running")
    abandoned.cancel()
    with pytest.raises(asyncio.CancelledError):
        await abandoned

    second = asyncio.create_task(passwords.hash("password-2"))
    # Its scrypt still runs (a thread cannot be cancelled), so the next one must wait.
    await eventually(lambda: passwords.waiting == 1, what="the second hash waiting")
    probe.release()
    await second

    assert probe.peak == 1
    assert probe.ran == 2


async def test_an_unknown_account_is_checked_against_a_decoy_at_the_same_cost() -> None:
    probe = HashProbe()
    passwords = hasher(probe, concurrency=1)

    check = await passwords.check("password", None)

    assert check.matches is False
    assert probe.ran == 1
