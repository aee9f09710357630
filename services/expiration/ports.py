"""What expiration's use cases need from the world, as Protocols; the adapters implement them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from shared.events import Event


class ExpiryJobs(Protocol):
    async def schedule(self, order_id: str, expires_at: datetime) -> bool:
        """Have the order's job run at ``expires_at`` (at once if past); False when the
        order has one already, or had one that fired recently. ``RetryLater`` when the
        job store is unreachable."""


class EventPublisher(Protocol):
    async def publish_event(self, event: Event, *, message_id: str | None = None) -> str:
        """Publish ``event``; ``PublishFailed`` unless the broker confirmed it."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
