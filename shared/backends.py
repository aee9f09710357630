"""The backends an event-driven API service stands on, opened together with their readiness
checks, for a service's ``open_deps`` (see ``shared.web.startup``): MongoDB, then messaging
with its outbox, inbox and unit of work, and the session denylist kept fresh from MongoDB."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from shared.auth import (
    REVOKED_SESSIONS,
    IdentitySettings,
    denylist_kept_fresh,
    revocation_subscription,
)
from shared.auth.revocation import RevocationStore
from shared.messaging import AmqpSettings, Messaging, Subscription, UnitOfWork, open_messaging
from shared.messaging.eventlog import log_metrics_kept_fresh
from shared.messaging.transactional import open_transactional
from shared.mongo import Mongo, MongoSettings, Setup, open_mongo
from shared.web.health import add_readiness_check


class BackendSettings(Protocol):
    """What of a service's settings its backends are opened with."""

    @property
    def mongo(self) -> MongoSettings: ...

    @property
    def amqp(self) -> AmqpSettings: ...

    @property
    def identity(self) -> IdentitySettings: ...


@dataclass(frozen=True)
class Backends:
    mongo: Mongo
    messaging: Messaging
    uow: UnitOfWork  # writes and the events they announce, in one transaction
    revocations: RevocationStore  # this service's copy of the signed-out sessions

    async def start_consuming(self, subscriptions: Iterable[Subscription[Any]]) -> None:
        """Consume ``subscriptions`` and ``session.revoked``, which every service that
        consumes at all records, so none can forget to refuse a signed-out token."""
        await self.messaging.start_consuming(
            [*subscriptions, revocation_subscription(self.revocations)]
        )


@asynccontextmanager
async def open_backends(
    app: web.Application, settings: BackendSettings, *, service: str, setup: Setup
) -> AsyncIterator[Backends]:
    """MongoDB (``setup`` creates the indexes), then messaging with its outbox and inbox;
    ``mongo`` and ``rabbitmq`` readiness checks; then the app's denylist
    (``app[REVOKED_SESSIONS]``), loaded before this yields and reloaded every
    ``REVOCATION_REFRESH_SECONDS``; and the event log's gauges, refreshed every
    ``EVENT_LOG_METRICS_SECONDS``. Consuming is left to the caller, which starts it once
    its handlers' dependencies exist."""
    async with (
        open_mongo(settings.mongo, setup) as opened,
        open_messaging(settings.amqp, service=service) as messaging,
        open_transactional(messaging, opened) as transactional,
    ):
        add_readiness_check(app, "mongo", opened.ping)
        add_readiness_check(app, "rabbitmq", messaging.check_ready)
        async with (
            denylist_kept_fresh(
                opened.db, app[REVOKED_SESSIONS], settings.identity.revocation_refresh_s
            ) as revocations,
            log_metrics_kept_fresh(messaging.connection, messaging.topology),
        ):
            yield Backends(opened, messaging, transactional.uow, revocations)
