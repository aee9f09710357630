"""Which entries of the outbox's window may go now (``free_to_go``): no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.messaging.outbox import free_to_go

NOW = datetime(2026, 1, 1, tzinfo=UTC)
HELD = NOW + timedelta(seconds=30)  # leased by someone, or waiting for a retry


def entry(message_id: str, subject: str | None, lease_until: datetime = NOW) -> dict[str, Any]:
    return {"_id": message_id, "subject": subject, "lease_until": lease_until}


def ids(window: list[dict[str, Any]], limit: int = 100) -> list[str]:
    return [doc["_id"] for doc in free_to_go(window, NOW, limit)]


def test_every_entry_of_a_subject_goes_in_order_when_none_is_held() -> None:
    window = [entry("a1", "ticket:a"), entry("b1", "ticket:b"), entry("a2", "ticket:a")]

    assert ids(window) == ["a1", "b1", "a2"]


def test_a_held_entry_holds_back_the_later_ones_of_its_subject_only() -> None:
    window = [
        entry("a1", "ticket:a", lease_until=HELD),
        entry("b1", "ticket:b"),
        entry("a2", "ticket:a"),
        entry("b2", "ticket:b"),
    ]

    assert ids(window) == ["b1", "b2"]


def test_an_entry_after_a_free_one_and_a_held_one_of_its_subject_waits() -> None:
    window = [
        entry("a1", "ticket:a"),
        entry("a2", "ticket:a", lease_until=HELD),
        entry("a3", "ticket:a"),
    ]

    assert ids(window) == ["a1"]


def test_entries_without_a_subject_are_not_held_back_by_each_other() -> None:
    window = [entry("x1", None, lease_until=HELD), entry("x2", None)]

    assert ids(window) == ["x2"]


def test_at_most_the_limit_is_chosen_oldest_first() -> None:
    window = [entry(f"e{n}", f"ticket:{n}") for n in range(5)]

    assert ids(window, limit=2) == ["e0", "e1"]


def test_a_lease_read_back_without_a_time_zone_counts_as_utc() -> None:
    window = [
        entry("a1", "ticket:a", lease_until=HELD.replace(tzinfo=None)),
        entry("a2", "ticket:a"),
    ]

    assert ids(window) == []
