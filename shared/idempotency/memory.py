"""The in-memory twin of ``MongoResults``, for use-case tests: the same reuse and race rules."""

from __future__ import annotations

from typing import Generic, TypeVar

from shared.errors import Conflict
from shared.idempotency import IdempotencyKey, IdempotencyKeyReused

T = TypeVar("T")


class InMemoryResults(Generic[T]):
    """``Results`` in ``records`` (record id -> fingerprint and result).

    The caller's unit of work owns ``records``: it hands each transaction a copy and keeps
    it only on commit, as MongoDB keeps a transaction's writes.
    """

    def __init__(self, records: dict[str, tuple[str, T]]) -> None:
        self._records = records

    async def recall(self, key: IdempotencyKey) -> T | None:
        record = self._records.get(key.record_id)
        if record is None:
            return None
        fingerprint, result = record
        if fingerprint != key.fingerprint:
            raise IdempotencyKeyReused()
        return result

    async def remember(self, key: IdempotencyKey, result: T) -> None:
        if key.record_id in self._records:
            raise Conflict()
        self._records[key.record_id] = (key.fingerprint, result)
