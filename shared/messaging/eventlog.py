"""Reading the event log back: a window of it fed through one service's own handlers.

The log is the stream topology.py binds to the exchange; every event is in it in the order
the broker routed it, with its message id and headers. ``replay`` reads it with a
``basic.consume`` of its own (a stream wants a prefetch and manual acks; ``x-stream-offset``
says where to start: ``first``, a time, or an offset) and hands each event of the window
to the subscription for its routing key, exactly as the consumer would, but in log order,
one at a time. The handlers' inbox and version rules make that safe to do twice.

Where the log ends: RabbitMQ 3.10 tells an AMQP client neither a stream's length nor its
last offset (``queue.declare-ok`` counts 0), so a replay appends a *fence* (routing key
``eventlog.fence``, a fresh message id; only the log takes it) once it is attached, and
stops when it reads it. Everything in the log before the replay attached comes before the
fence, so a replay ends under any traffic, and sees at least what was there when it began.
Readers pass over fences, ours or others'.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aiormq.exceptions import ChannelNotFoundEntity

from shared import tracing
from shared.background import every
from shared.events import MalformedEvent, decode
from shared.messaging import headers as h
from shared.messaging.consumer import Delivery, Handler, RetryLater, Subscription, is_transient
from shared.messaging.outcome import counting
from shared.messaging.publisher import Publisher
from shared.messaging.topology import FENCE_KEY, Topology
from shared.metrics import EVENT_LOG_ENTRIES, EVENT_LOG_OLDEST_TIMESTAMP, EVENT_LOG_REPLAYED

log = logging.getLogger(__name__)

OFFSET_HEADER = "x-stream-offset"  # the argument that says where to start, and each entry's
PREFETCH = 100  # entries in flight to the reader; the stream needs a bound
PROGRESS_EVERY = 100  # entries read between two progress calls
TRANSIENT_ATTEMPTS = 10  # tries of one entry whose handler fails transiently (not RetryLater)
TRANSIENT_BACKOFF_S = 0.05  # doubled per attempt, to at most TRANSIENT_BACKOFF_MAX_S
TRANSIENT_BACKOFF_MAX_S = 2.0
ENDS_WAIT_S = 2.0  # for the two entries log_ends reads: nothing by then, the log is empty


Start = Literal["first", "last"] | datetime | int


class EventLogMissing(Exception):
    """No event log in this namespace (the services never started with one)."""


class ReplayFailed(Exception):
    """A handler failed with something other than ``RetryLater``; ``report`` is how far it got."""

    def __init__(self, message: str, report: ReplayReport) -> None:
        super().__init__(message)
        self.report = report


# A rebuild's requests and answers (snapshot.requested, snapshot.completed): never replayed,
# whatever the window's events. An old request fed again would make its owner re-publish
# every snapshot at each replay, for a rebuild that finished long ago.
CONTROL_EVENTS = ("snapshot.*",)


def is_control(routing_key: str) -> bool:
    return any(topic_match(pattern, routing_key) for pattern in CONTROL_EVENTS)


@dataclass(frozen=True)
class Window:
    """Where to start and stop reading the log, and which events of it to feed."""

    start: Literal["first"] | datetime | int = "first"  # a time (publish time) or an offset
    end: datetime | int | None = None  # inclusive; None: up to the log's end as of now
    events: tuple[str, ...] = ()  # routing-key patterns like "ticket.*"; () = all

    def selects(self, routing_key: str) -> bool:
        """Whether ``routing_key`` matches one of ``events`` (topic rules: ``*`` one word,
        ``#`` any number of words)."""
        return not self.events or any(topic_match(p, routing_key) for p in self.events)

    def before_start(self, entry: Entry) -> bool:
        # The broker starts a time at the chunk holding it: entries just before it may come.
        return isinstance(self.start, datetime) and entry.timestamp < _aware(self.start)

    def past_end(self, entry: Entry) -> bool:
        if isinstance(self.end, datetime):
            return entry.timestamp > _aware(self.end)
        return self.end is not None and entry.offset > self.end


@dataclass
class ReplayReport:
    """What a replay did: entries of the window read, and what came of them."""

    read: int = 0
    applied: int = 0
    duplicates: int = 0  # the service had them already (inbox, versions)
    deferred: int = 0  # RetryLater: not applicable now (an early version), left alone
    skipped: int = 0  # no subscription, outside the window's events, control, undecodable
    offset: int | None = None  # the last offset read

    def line(self) -> str:
        return (
            f"read {self.read}, applied {self.applied}, duplicates {self.duplicates}, "
            f"deferred {self.deferred}, skipped {self.skipped}, offset {self.offset}"
        )


@dataclass(frozen=True)
class Entry:
    """One entry of the log as read."""

    offset: int
    routing_key: str
    message_id: str
    timestamp: datetime
    body: bytes = b""
    headers: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, message: AbstractIncomingMessage) -> Entry:
        headers: dict[str, Any] = dict(message.headers or {})
        stamp = message.timestamp or datetime.fromtimestamp(0, UTC)
        return cls(
            offset=int(str(headers.get(OFFSET_HEADER, -1))),
            routing_key=h.routing_key_of(message),
            message_id=message.message_id or "",
            timestamp=_aware(stamp),
            body=message.body,
            headers=headers,
        )


async def replay(
    connection: AbstractRobustConnection,
    topology: Topology,
    *,
    subscriptions: Sequence[Subscription[Any]],
    window: Window,
    dry_run: bool = False,
    progress: Callable[[ReplayReport], None] | None = None,
    service: str = "",
) -> ReplayReport:
    """Feed the log's ``window`` to ``subscriptions``' handlers, in log order.

    An event with no subscription, outside ``window.events``, or a rebuild's control event
    (``CONTROL_EVENTS``) is skipped; one whose
    handler raises ``RetryLater`` is deferred (left alone: the consumer will see it again
    if it is re-published, or a later replay will). ``dry_run`` reads, matches and decodes,
    and calls no handler. ``progress`` gets the report every ``PROGRESS_EVERY`` entries;
    ``service`` labels the ``event_log_replayed`` counter. A transient failure (a write
    conflict, a database blip) is tried again a few times, in place. Raises
    ``EventLogMissing``, or ``ReplayFailed`` when a handler fails otherwise (the report
    says how far it got).
    """
    handlers: dict[str, Handler] = {}
    for subscription in subscriptions:
        handlers[subscription.event_type.routing_key] = subscription.handler
    report = ReplayReport()
    reader = await _Reader.open(connection, topology, window.start)
    try:
        async for entry in reader.until_fence():
            if window.past_end(entry):
                break
            if window.before_start(entry):
                continue
            report.read += 1
            report.offset = entry.offset
            outcome = await _feed(entry, handlers, window, dry_run, report)
            EVENT_LOG_REPLAYED.labels(service, outcome).inc()
            if progress is not None and report.read % PROGRESS_EVERY == 0:
                progress(report)
    finally:
        await reader.close()
    log.info("replay of %s for %s: %s", topology.log_name, service or "?", report.line())
    return report


async def _feed(
    entry: Entry,
    handlers: dict[str, Handler],
    window: Window,
    dry_run: bool,
    report: ReplayReport,
) -> str:
    """Hand one entry to its handler; returns the outcome it is counted under."""
    handler = handlers.get(entry.routing_key)
    if (
        handler is None
        or is_control(entry.routing_key)
        or not window.selects(entry.routing_key)
        or not entry.message_id
    ):
        report.skipped += 1
        return "skipped"
    try:
        event = decode(entry.routing_key, entry.body)
    except MalformedEvent as exc:
        log.warning("offset %d (%s) is not a valid event: %s", entry.offset, entry.routing_key, exc)
        report.skipped += 1
        return "skipped"
    if dry_run:
        return "counted"
    delivery = Delivery(
        message_id=entry.message_id, routing_key=entry.routing_key, attempt=1, headers=entry.headers
    )
    for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
        try:
            with tracing.bound(tracing.trace_from_event_headers(entry.headers)), counting() as seen:
                await handler(event, delivery)
            break
        except RetryLater as exc:
            log.info("offset %d (%s) deferred: %s", entry.offset, entry.routing_key, exc)
            report.deferred += 1
            return "deferred"
        except Exception as exc:
            if is_transient(exc) and attempt < TRANSIENT_ATTEMPTS:
                # A write race with the live consumer, a database blip: this entry again,
                # after a pause (the log waits; a replay applies in order).
                await asyncio.sleep(min(TRANSIENT_BACKOFF_S * 2**attempt, TRANSIENT_BACKOFF_MAX_S))
                continue
            raise ReplayFailed(
                f"handler for {entry.routing_key} {entry.message_id} at offset {entry.offset} "
                f"failed: {type(exc).__name__}: {exc}",
                report,
            ) from exc
    if seen.duplicate:
        report.duplicates += 1
        return "duplicate"
    report.applied += 1
    return "applied"


class _Reader:
    """A consumer of the log from ``start`` that ends at the fence it appends once attached.

    A second consumer, at ``next``, reads where the fence landed: a start past it (an
    offset beyond the log's end) would otherwise wait for entries that never come.
    """

    def __init__(self, channel: AbstractChannel, publisher: Publisher, start: Start) -> None:
        self._channel = channel
        self._publisher = publisher
        self._start = start
        # None: the end, when the start lies beyond the fence.
        self._entries: asyncio.Queue[AbstractIncomingMessage | None] = asyncio.Queue()
        self._current: AbstractIncomingMessage | None = None
        self.fence = f"fence-{uuid.uuid4().hex}"

    @classmethod
    async def open(
        cls, connection: AbstractRobustConnection, topology: Topology, start: Start
    ) -> _Reader:
        channel = await connection.channel(publisher_confirms=False)
        reader = cls(channel, Publisher(connection, topology), start)
        try:
            await channel.set_qos(prefetch_count=PREFETCH)
            stream = await _log_queue(channel, topology)
            await stream.consume(
                reader._on_entry, no_ack=False, arguments={OFFSET_HEADER: _offset_argument(start)}
            )
            await stream.consume(reader._on_new, no_ack=False, arguments={OFFSET_HEADER: "next"})
            # Both attached: the fence lands after every entry there was, and both see it.
            await reader._publisher.start()
            await reader._publisher.publish(FENCE_KEY, b"{}", message_id=reader.fence)
        except BaseException:
            await reader.close()
            raise
        return reader

    async def _on_entry(self, message: AbstractIncomingMessage) -> None:
        self._entries.put_nowait(message)

    async def _on_new(self, message: AbstractIncomingMessage) -> None:
        await message.ack()
        entry = Entry.of(message)
        start = self._start
        if entry.message_id == self.fence and isinstance(start, int) and start > entry.offset:
            self._entries.put_nowait(None)

    async def until_fence(self) -> AsyncIterator[Entry]:
        """The entries before our fence, in log order, each acked once the next is asked."""
        while (message := await self._entries.get()) is not None:
            if self._current is not None:
                await self._current.ack()
            self._current = message
            entry = Entry.of(message)
            if entry.routing_key == FENCE_KEY:
                if entry.message_id == self.fence:
                    return
                continue  # another reader's
            yield entry

    async def close(self) -> None:
        # Closing the channel ends both consumers; a stream keeps no state of a reader's.
        await self._publisher.close()
        if not self._channel.is_closed:
            await self._channel.close()


async def _log_queue(channel: AbstractChannel, topology: Topology) -> AbstractQueue:
    try:
        return await channel.declare_queue(topology.log_name, passive=True)
    except ChannelNotFoundEntity:
        raise EventLogMissing(
            f"no event log {topology.log_name} (has a service started with one?)"
        ) from None


def _offset_argument(start: Start) -> str | datetime | int:
    if isinstance(start, datetime):
        return _aware(start)
    if isinstance(start, int) or start in ("first", "last"):
        return start
    raise ValueError(f"a window starts at 'first', a time or an offset, not {start!r}")


def _aware(moment: datetime) -> datetime:
    """A time without a zone is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def topic_match(pattern: str, routing_key: str) -> bool:
    """RabbitMQ's topic rule: words split on dots, ``*`` is one word, ``#`` zero or more."""

    def match(p: list[str], k: list[str]) -> bool:
        if not p:
            return not k
        if p[0] == "#":
            return any(match(p[1:], k[i:]) for i in range(len(k) + 1))
        return bool(k) and p[0] in ("*", k[0]) and match(p[1:], k[1:])

    return match(pattern.split("."), routing_key.split("."))


# ------------------------------------------------------------------------------ metrics


@dataclass(frozen=True)
class LogEnds:
    """The first entry's offset and publish time, and the last chunk's first offset."""

    first_offset: int
    oldest: datetime
    last_offset: int

    @property
    def entries(self) -> int:
        # Up to the start of the last chunk: short by at most one chunk's entries.
        return self.last_offset - self.first_offset + 1


async def log_ends(
    connection: AbstractRobustConnection, topology: Topology, *, wait_s: float = ENDS_WAIT_S
) -> LogEnds | None:
    """The log's first entry and its last chunk's first; None when it is empty.

    Two readers, at ``first`` and at ``last``: cheap (two deliveries, whatever the log's
    size) and the same on one broker or a cluster, the only way AMQP 0.9.1 shows a stream's
    extent. The broker hands an entry over at once when there is one, so nothing within
    ``wait_s`` means an empty log (no fence is appended: metrics must not write). The
    log's size in bytes only the broker's own metrics know (its Prometheus plugin).
    """
    channel = await connection.channel(publisher_confirms=False)
    loop = asyncio.get_running_loop()
    ends: dict[str, asyncio.Future[Entry]] = {}
    try:
        await channel.set_qos(prefetch_count=1)
        stream = await _log_queue(channel, topology)
        for where in ("first", "last"):
            ends[where] = loop.create_future()
            await stream.consume(partial(_first_of, ends[where]), arguments={OFFSET_HEADER: where})
        await asyncio.wait(ends.values(), timeout=wait_s)
    finally:
        if not channel.is_closed:
            await channel.close()
    first, last = ends["first"], ends["last"]
    if not first.done():
        return None
    return LogEnds(
        first.result().offset,
        first.result().timestamp,
        (last.result() if last.done() else first.result()).offset,
    )


async def _first_of(end: asyncio.Future[Entry], message: AbstractIncomingMessage) -> None:
    if not end.done():
        end.set_result(Entry.of(message))


async def refresh_log_metrics(connection: AbstractRobustConnection, topology: Topology) -> None:
    """Set ``event_log_entries`` and ``event_log_oldest_timestamp_seconds``."""
    ends = await log_ends(connection, topology)
    EVENT_LOG_ENTRIES.set(ends.entries if ends else 0)
    EVENT_LOG_OLDEST_TIMESTAMP.set(ends.oldest.timestamp() if ends else 0)


@asynccontextmanager
async def log_metrics_kept_fresh(
    connection: AbstractRobustConnection, topology: Topology
) -> AsyncIterator[None]:
    """Refresh the log's gauges every ``metrics_interval_s`` for the block (no log, no-op)."""
    if topology.event_log is None:
        yield
        return
    refresh = partial(refresh_log_metrics, connection, topology)
    async with every(topology.event_log.metrics_interval_s, refresh, what="event log metrics"):
        yield
