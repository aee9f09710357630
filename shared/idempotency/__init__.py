"""Idempotency keys: a request repeated with the same ``Idempotency-Key`` gets the first result.

The result is remembered in the same transaction as the write it describes, so either
both exist or neither does; a repeat then finds it instead of writing again. This module
is pure: ``run_once`` is the one recall/remember step every keyed use case takes, against
a ``Results`` port (``shared.idempotency.mongo`` stores it in MongoDB,
``shared.idempotency.memory`` is its in-memory twin).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from shared.errors import BadRequest

T = TypeVar("T")

MAX_KEY_LENGTH = 255
# Long enough for any client retry loop; clients must not reuse a key after a day.
RETENTION_S = 24 * 60 * 60


class IdempotencyKeyReused(BadRequest):
    default_message = "Idempotency-Key was already used for a different request"


@dataclass(frozen=True)
class IdempotencyKey:
    """A client's key, within ``scope`` (who and what), for a request with ``fingerprint``."""

    scope: str
    key: str
    fingerprint: str

    @property
    def record_id(self) -> str:
        return f"{self.scope}\n{self.key}"


def fingerprint(request: Any) -> str:
    """A digest of the request's meaning (its loaded body), independent of key order.

    A typed command (a dataclass) digests as the dict of its fields, so a body's digest
    does not change when its schema starts building a command.
    """
    text = json.dumps(request, sort_keys=True, default=_plain, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


class Results(Protocol[T]):
    """Results remembered under idempotency keys, inside one transaction."""

    async def recall(self, key: IdempotencyKey) -> T | None:
        """The result remembered under ``key``; ``IdempotencyKeyReused`` if the key was
        used for another request."""
        ...

    async def remember(self, key: IdempotencyKey, result: T) -> None:
        """Keep ``result`` under ``key``; ``Conflict`` if a concurrent first use committed it."""
        ...


def _always(_: object) -> bool:
    return True


async def run_once(
    results: Results[T],
    key: IdempotencyKey | None,
    work: Callable[[], Awaitable[T]],
    *,
    keep: Callable[[T], bool] = _always,
) -> T:
    """``work()``'s result, remembered under ``key``; a repeat of the key gets that result
    back and ``work`` does not run again.

    Call it inside the transaction ``work`` writes in, with ``results`` bound to it. Only
    a result ``keep`` accepts is remembered (a refused payment may be retried). Without a
    key, just ``work()``.
    """
    if key is None:
        return await work()
    earlier = await results.recall(key)
    if earlier is not None:
        return earlier
    result = await work()
    if keep(result):
        await results.remember(key, result)
    return result


__all__ = [
    "MAX_KEY_LENGTH",
    "RETENTION_S",
    "IdempotencyKey",
    "IdempotencyKeyReused",
    "Results",
    "fingerprint",
    "run_once",
]
