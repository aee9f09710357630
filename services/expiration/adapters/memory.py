"""In-memory twins of expiration's ports, for the use-case tests. ``InMemoryExpiryJobs``
keeps arq's rule (one job per order, its id taken while the job or its result is kept) and
passes the same contract tests as ``ArqExpiryJobs``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.expiration.domain import expiry_job_id
from shared.events import Event
from shared.messaging import PublishFailed


class InMemoryExpiryJobs:
    def __init__(self) -> None:
        self.due: dict[str, datetime] = {}  # job id -> when it runs

    async def schedule(self, order_id: str, expires_at: datetime) -> bool:
        job_id = expiry_job_id(order_id)
        if job_id in self.due:
            return False
        self.due[job_id] = expires_at
        return True


@dataclass
class RecordingPublisher:
    """Keeps what it is asked to publish; refuses (``PublishFailed``) while ``refusing``."""

    published: list[tuple[Event, str | None]] = field(default_factory=list)
    refusing: bool = False

    async def publish_event(self, event: Event, *, message_id: str | None = None) -> str:
        if self.refusing:
            raise PublishFailed(f"{event.routing_key} was not confirmed")
        self.published.append((event, message_id))
        return message_id or str(len(self.published))


@dataclass
class FixedClock:
    """A clock that moves only when told."""

    at: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def now(self) -> datetime:
        return self.at
