"""Replay a window of the event log through one service's own handlers.

Usage::

    python -m shared.messaging.replay --service orders [--from ISO|OFFSET] [--to ISO|OFFSET]
        [--events 'ticket.*'] [--dry-run]

The service's settings come from the environment as the service reads them (``MONGO_URL``,
``AMQP_URL``, ``AMQP_NAMESPACE``, ...); its handlers from its composition root:
``services.<service>.bootstrap.open_replaying`` builds its listeners on a database, broker
connection and unit of work of this command's own (``open_stores``), with an outbox relay
for the events they emit. ``--from``
defaults to the log's first entry, ``--to`` to its end when the replay begins; both take
an ISO-8601 time (UTC unless it says otherwise) or a stream offset, and the ends are
included. ``--events`` takes routing-key patterns (``*`` one word, ``#`` any), comma
separated or repeated. ``--dry-run`` reads, matches and decodes, and applies nothing.

Progress goes to stdout every ``PROGRESS_EVERY`` entries, then a summary. Exit status 0;
1 when a handler failed (the summary says how far it got) or the log is missing; 2 for bad
arguments or settings.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from shared.config import ConfigError, Env
from shared.messaging.consumer import Subscription
from shared.messaging.eventlog import EventLogMissing, ReplayFailed, ReplayReport, Window, replay
from shared.messaging.runtime import Messaging, open_messaging
from shared.messaging.settings import AmqpSettings
from shared.messaging.transactional import open_transactional
from shared.messaging.uow import UnitOfWork
from shared.mongo import Mongo, MongoSettings, Setup, open_mongo


class BadArgument(ValueError):
    """A ``--from``/``--to``/``--events`` value that says nothing the log understands."""


def parse_point(option: str, text: str) -> datetime | int:
    """An offset (digits) or an ISO-8601 time (UTC when it names no zone)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadArgument(
            f"{option} must be an ISO-8601 time (e.g. 2026-12-01T10:00:00Z) or a log offset "
            f"(a whole number), got {text!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_events(values: Sequence[str]) -> tuple[str, ...]:
    patterns = tuple(p.strip() for value in values for p in value.split(",") if p.strip())
    for pattern in patterns:
        if any(not word for word in pattern.split(".")):
            raise BadArgument(f"--events: {pattern!r} is not a routing-key pattern")
    return patterns


def window_of(args: argparse.Namespace) -> Window:
    start: Literal["first"] | datetime | int = (
        "first" if args.start is None else parse_point("--from", args.start)
    )
    end = None if args.end is None else parse_point("--to", args.end)
    return Window(start=start, end=end, events=parse_events(args.events or []))


@dataclass(frozen=True)
class Stores:
    """A service's own stores, opened as the service opens them."""

    mongo: Mongo
    messaging: Messaging
    uow: UnitOfWork  # writes, and the events they announce, published by the relay


@dataclass(frozen=True)
class Replaying:
    """A service's listeners on its stores, and the broker connection to read the log on."""

    messaging: Messaging
    subscriptions: Sequence[Subscription[Any]]


# A service's bootstrap: ``open_replaying(mongo, amqp, env)``, its listeners for a replay.
OpenReplaying = Callable[[MongoSettings, AmqpSettings, Env], AbstractAsyncContextManager[Replaying]]


@asynccontextmanager
async def open_stores(
    mongo: MongoSettings, amqp: AmqpSettings, *, service: str, setup: Setup
) -> AsyncIterator[Stores]:
    """MongoDB (``setup`` makes the indexes), messaging, and the outbox with its relay."""
    async with (
        open_mongo(mongo, setup) as opened,
        open_messaging(amqp, service=service, connection_name=f"{service}-replay") as messaging,
        open_transactional(messaging, opened) as transactional,
    ):
        yield Stores(opened, messaging, transactional.uow)


def opener_of(service: str) -> OpenReplaying:
    """The service's composition root's ``open_replaying``."""
    try:
        bootstrap = importlib.import_module(f"services.{service}.bootstrap")
    except ModuleNotFoundError:
        raise BadArgument(f"--service: there is no service {service!r}") from None
    opener: OpenReplaying | None = getattr(bootstrap, "open_replaying", None)
    if opener is None:
        raise BadArgument(
            f"--service: {service} keeps no state the log can replay into "
            f"(services/{service}/bootstrap.py has no open_replaying)"
        )
    return opener


async def replay_service(
    service: str,
    *,
    mongo: MongoSettings,
    amqp: AmqpSettings,
    env: Env,
    window: Window,
    dry_run: bool = False,
    progress: Callable[[ReplayReport], None] | None = None,
) -> ReplayReport:
    """Open the service's stores as it does and replay ``window`` through its listeners."""
    async with opener_of(service)(mongo, amqp, env) as replaying:
        return await replay(
            replaying.messaging.connection,
            replaying.messaging.topology,
            subscriptions=replaying.subscriptions,
            window=window,
            dry_run=dry_run,
            progress=progress,
            service=service,
        )


def describe(window: Window, *, dry_run: bool) -> str:
    end = "the end of the log" if window.end is None else window.end
    events = ", ".join(window.events) or "every event"
    verb = "counting (dry run)" if dry_run else "replaying"
    return f"{verb} {events} from {window.start} to {end}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m shared.messaging.replay",
        description="Replay a window of the event log through one service's handlers.",
    )
    parser.add_argument("--service", required=True, help="the consuming service, e.g. orders")
    parser.add_argument("--from", dest="start", metavar="ISO|OFFSET", help="default: the first")
    parser.add_argument("--to", dest="end", metavar="ISO|OFFSET", help="default: the end, now")
    parser.add_argument(
        "--events", action="append", metavar="PATTERNS", help="e.g. 'ticket.*' (default: all)"
    )
    parser.add_argument("--dry-run", action="store_true", help="count only; apply nothing")
    return parser


def _print_progress(report: ReplayReport) -> None:
    print(f"  {report.line()}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    env = Env(os.environ)
    try:
        window = window_of(args)
        opener_of(args.service)
        mongo = MongoSettings.from_env(env, default_database=args.service)
        amqp = AmqpSettings.from_env(env)
    except (BadArgument, ConfigError) as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return 2
    print(f"{args.service}: {describe(window, dry_run=args.dry_run)}", flush=True)
    try:
        report = asyncio.run(
            replay_service(
                args.service,
                mongo=mongo,
                amqp=amqp,
                env=env,
                window=window,
                dry_run=args.dry_run,
                progress=_print_progress,
            )
        )
    except ConfigError as exc:  # what the service reads besides (payments: Stripe's)
        print(f"replay: {exc}", file=sys.stderr)
        return 2
    except EventLogMissing as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return 1
    except ReplayFailed as exc:
        print(f"replay failed: {exc}\n  so far: {exc.report.line()}", file=sys.stderr)
        return 1
    print(f"{args.service}: done: {report.line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
