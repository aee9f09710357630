"""The event log on the real broker: what goes into the stream, its retention, and replaying
windows of it through orders' own handlers (its ticket replica against tickets' events)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from bson import ObjectId
from prometheus_client import REGISTRY

from services.orders.bootstrap import open_replaying as open_orders
from shared.config import ConfigError, Env
from shared.events import SnapshotCompleted, SnapshotRequested, TicketCreated, TicketUpdated
from shared.messaging import (
    AmqpSettings,
    Publisher,
    Subscription,
    Topology,
    connect,
)
from shared.messaging.eventlog import (
    EventLogMissing,
    ReplayReport,
    Window,
    log_ends,
    refresh_log_metrics,
    replay,
    topic_match,
)
from shared.messaging.replay import replay_service
from shared.messaging.settings import EventLogSettings
from shared.mongo import Mongo, MongoSettings
from shared.testing.infra import REPO_ROOT, has_rabbitmqctl, rabbitmqctl, vhost_of
from shared.testing.poll import eventually

SELLER = "5fd843a29fc5e30023bd790b"


@pytest.fixture
def logged(amqp: AmqpSettings) -> AmqpSettings:
    """The test's settings with an event log (the suite's have none)."""
    return dataclasses.replace(amqp, event_log=EventLogSettings(max_age="1D"))


@pytest.fixture
async def connection(logged: AmqpSettings) -> AsyncIterator[AbstractRobustConnection]:
    opened = await connect(logged.url, connection_name="test-event-log")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def publisher(
    connection: AbstractRobustConnection, logged: AmqpSettings
) -> AsyncIterator[Publisher]:
    """A publisher playing the tickets service; starting it declares the log."""
    started = Publisher(connection, Topology.from_settings(logged))
    await started.start()
    try:
        yield started
    finally:
        await started.close()


async def read_log(
    connection: AbstractRobustConnection, topology: Topology, count: int
) -> list[AbstractIncomingMessage]:
    """The log's first ``count`` entries, straight off the stream."""
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=count)
    stream = await channel.declare_queue(topology.log_name, passive=True)
    entries: list[AbstractIncomingMessage] = []

    async def keep(message: AbstractIncomingMessage) -> None:
        entries.append(message)

    await stream.consume(keep, arguments={"x-stream-offset": "first"})
    try:
        await eventually(lambda: len(entries) >= count, what=f"{count} entries in the log")
    finally:
        await channel.close()
    return entries[:count]


class Tickets:
    """The tickets service as its events tell it: the source a replica must equal."""

    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher
        self.state: dict[str, tuple[int, str, int]] = {}  # id -> (version, title, cents)

    async def create(self, price_cents: int = 1000) -> str:
        ticket_id = str(ObjectId())
        self.state[ticket_id] = (0, "concert", price_cents)
        await self._publisher.publish_event(
            TicketCreated(ticket_id, 0, "concert", price_cents, SELLER)
        )
        return ticket_id

    async def reprice(self, ticket_id: str) -> None:
        version, title, cents = self.state[ticket_id]
        self.state[ticket_id] = (version + 1, title, cents + 100)
        await self._publisher.publish_event(
            TicketUpdated(ticket_id, version + 1, title, cents + 100, SELLER)
        )


async def replica(mongo: Mongo) -> dict[str, tuple[int, str, int]]:
    """orders' copy of the tickets."""
    return {
        str(doc["_id"]): (doc["version"], doc["title"], doc["price_cents"])
        async for doc in mongo.db.tickets.find({})
    }


async def orders_replay(
    mongo_settings: MongoSettings, logged: AmqpSettings, window: Window, **options: Any
) -> ReplayReport:
    """``make replay SERVICE=orders`` as a function: orders' own listeners and stores."""
    return await replay_service(
        "orders", mongo=mongo_settings, amqp=logged, env=Env({}), window=window, **options
    )


# ----------------------------------------------------------------------- what the log holds


async def test_every_event_published_goes_into_the_log_with_its_id_key_and_headers(
    connection: AbstractRobustConnection, publisher: Publisher, logged: AmqpSettings
) -> None:
    ticket = TicketCreated(str(ObjectId()), 0, "concert", 1500, SELLER)
    updated = TicketUpdated(ticket.id, 1, "concert", 2000, SELLER)

    first = await publisher.publish_event(ticket, headers={"x-request-id": "req-1"})
    second = await publisher.publish_event(updated)

    entries = await read_log(connection, Topology.from_settings(logged), 2)
    assert [(e.message_id, e.type, e.routing_key) for e in entries] == [
        (first, "ticket.created", "ticket.created"),
        (second, "ticket.updated", "ticket.updated"),
    ]
    assert entries[0].headers is not None
    assert entries[0].headers["x-request-id"] == "req-1"
    assert [e.headers["x-stream-offset"] for e in entries if e.headers] == [0, 1]
    assert json.loads(entries[1].body)["price"] == 20


@pytest.mark.skipif(not has_rabbitmqctl(), reason="needs rabbitmqctl to read queue arguments")
async def test_the_log_is_a_stream_bound_to_every_event_with_the_settings_retention(
    publisher: Publisher, logged: AmqpSettings, amqp_url: str
) -> None:
    topology = Topology.from_settings(logged)
    vhost = vhost_of(amqp_url)

    queues = rabbitmqctl("list_queues", "-p", vhost, "name", "type", "arguments").stdout
    bindings = rabbitmqctl(
        "list_bindings", "-p", vhost, "source_name", "destination_name", "routing_key"
    ).stdout

    line = next(line for line in queues.splitlines() if line.startswith(f"{topology.log_name}\t"))
    assert line.split("\t")[1] == "stream"
    for argument in ('{"x-max-age","1D"}', '{"x-max-length-bytes",10000000000}',
                     '{"x-stream-max-segment-size-bytes",500000000}'):  # fmt: skip
        assert argument in line
    assert f"{topology.exchange_name}\t{topology.log_name}\t#" in bindings


async def test_the_oldest_entries_go_once_the_log_outgrows_its_max_bytes(
    amqp: AmqpSettings,
) -> None:
    small = dataclasses.replace(
        amqp, event_log=EventLogSettings(max_age="1D", max_bytes=4000, segment_bytes=1000)
    )
    topology = Topology.from_settings(small)
    connection = await connect(small.url, connection_name="test-retention")
    try:
        publisher = Publisher(connection, topology)
        await publisher.start()
        ticket = TicketCreated(str(ObjectId()), 0, "x" * 200, 100, SELLER)
        for _ in range(60):  # ~15 kB: several segments past the limit
            await publisher.publish_event(ticket)

        async def truncated() -> bool:
            ends = await log_ends(connection, topology)
            return ends is not None and ends.first_offset > 0

        await eventually(truncated, what="the first segments to be dropped")
        ends = await log_ends(connection, topology)
        assert ends is not None
        assert ends.entries < 60
        await publisher.close()
    finally:
        await connection.close()


def test_the_retention_settings_are_read_from_the_environment() -> None:
    env = Env(
        {
            "AMQP_URL": "amqp://localhost/",
            "EVENT_LOG_MAX_AGE": "12h",
            "EVENT_LOG_MAX_BYTES": "5000000",
            "EVENT_LOG_SEGMENT_BYTES": "100000",
            "EVENT_LOG_METRICS_SECONDS": "15",
        }
    )

    settings = AmqpSettings.from_env(env)

    assert settings.event_log == EventLogSettings("12h", 5_000_000, 100_000, 15.0)
    assert Topology.from_settings(settings).log_arguments(settings.event_log) == {
        "x-queue-type": "stream",
        "x-max-age": "12h",
        "x-max-length-bytes": 5_000_000,
        "x-stream-max-segment-size-bytes": 100_000,
    }


@pytest.mark.parametrize("age", ["1Y", "6M", "7D", "24h", "90m", "3600s"])
def test_every_unit_rabbitmq_knows_is_a_max_age(age: str) -> None:
    env = Env({"AMQP_URL": "amqp://localhost/", "EVENT_LOG_MAX_AGE": age})

    assert AmqpSettings.from_env(env).event_log == EventLogSettings(max_age=age)


@pytest.mark.parametrize("age", ["7", "7d", "7 days", "0D", "-1D", "1.5h", "D"])
def test_a_max_age_rabbitmq_would_not_take_is_refused_naming_the_variable(age: str) -> None:
    env = Env({"AMQP_URL": "amqp://localhost/", "EVENT_LOG_MAX_AGE": age})

    with pytest.raises(ConfigError, match="EVENT_LOG_MAX_AGE"):
        AmqpSettings.from_env(env)


def test_a_service_with_a_bad_max_age_exits_2_naming_it() -> None:
    env = {**os.environ, "AMQP_URL": "amqp://localhost/", "EVENT_LOG_MAX_AGE": "a week"}

    result = subprocess.run(
        [sys.executable, "-m", "services.expiration"],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert result.returncode == 2
    assert "EVENT_LOG_MAX_AGE" in result.stderr


# ------------------------------------------------------------------------------ replaying


async def test_replaying_a_window_twice_changes_nothing_the_second_time(
    publisher: Publisher, logged: AmqpSettings, mongo: Mongo, mongo_settings: MongoSettings
) -> None:
    tickets = Tickets(publisher)
    for _ in range(3):
        ticket_id = await tickets.create()
        await tickets.reprice(ticket_id)
        await tickets.reprice(ticket_id)

    first = await orders_replay(mongo_settings, logged, Window())
    after_first = await replica(mongo)
    second = await orders_replay(mongo_settings, logged, Window())

    assert (first.read, first.applied, first.duplicates) == (9, 9, 0)
    assert after_first == tickets.state
    assert (second.read, second.applied, second.duplicates) == (9, 0, 9)
    assert await replica(mongo) == after_first


async def test_a_replay_during_live_traffic_converges_on_the_source(
    publisher: Publisher, logged: AmqpSettings, mongo: Mongo, mongo_settings: MongoSettings
) -> None:
    tickets = Tickets(publisher)
    ids = [await tickets.create() for _ in range(5)]
    for ticket_id in ids:
        await tickets.reprice(ticket_id)

    async def traffic() -> None:
        # Tickets keep changing while the replay runs: new tickets and new versions.
        for round_ in range(5):
            ids.append(await tickets.create())
            for ticket_id in ids[: 3 + round_]:
                await tickets.reprice(ticket_id)

    # orders consumes live as it does in production, patient enough for the replay to bring
    # the versions before; the replay runs beside it in the same process (one mongoeco
    # write lock: mongoeco fails any two overlapping transactions, mongod only the same
    # document's, and the replay would spend its time on conflicts).
    live = dataclasses.replace(logged, max_retries=300)
    async with open_orders(mongo_settings, live, Env({})) as orders:
        await orders.messaging.start_consuming(orders.subscriptions)
        report, _ = await asyncio.gather(
            replay(
                orders.messaging.connection,
                orders.messaging.topology,
                subscriptions=orders.subscriptions,
                window=Window(),
                service="orders",
            ),
            traffic(),
        )

        await eventually(
            lambda: _equal(mongo, tickets.state), timeout_s=30, what="the replica to converge"
        )
    assert report.read >= 10  # at least what was there when it began


async def _equal(mongo: Mongo, state: dict[str, tuple[int, str, int]]) -> bool:
    return await replica(mongo) == state


async def test_a_dry_run_counts_and_applies_nothing(
    publisher: Publisher, logged: AmqpSettings, mongo: Mongo, mongo_settings: MongoSettings
) -> None:
    tickets = Tickets(publisher)
    await tickets.reprice(await tickets.create())

    report = await orders_replay(mongo_settings, logged, Window(), dry_run=True)

    assert (report.read, report.applied, report.duplicates, report.skipped) == (2, 0, 0, 0)
    assert await replica(mongo) == {}


async def test_from_to_and_events_select_what_they_say(
    connection: AbstractRobustConnection, publisher: Publisher, logged: AmqpSettings
) -> None:
    topology = Topology.from_settings(logged)
    tickets = Tickets(publisher)
    for _ in range(3):
        await tickets.reprice(await tickets.create())  # offsets 0..5: created, updated, ...
    seen: list[tuple[int, str]] = []

    async def note(_event: Any, delivery: Any) -> None:
        seen.append((int(delivery.headers["x-stream-offset"]), delivery.routing_key))

    handlers: list[Subscription[Any]] = [
        Subscription(TicketCreated, note),
        Subscription(TicketUpdated, note),
    ]

    between = await replay(connection, topology, subscriptions=handlers, window=Window(2, 4))
    assert [offset for offset, _ in seen] == [2, 3, 4]
    assert (between.read, between.applied, between.offset) == (3, 3, 4)

    seen.clear()
    updates = await replay(
        connection, topology, subscriptions=handlers, window=Window(events=("ticket.updated",))
    )
    assert [key for _, key in seen] == ["ticket.updated"] * 3
    assert (updates.read, updates.skipped) == (6, 3)

    seen.clear()
    beyond = await replay(connection, topology, subscriptions=handlers, window=Window(start=50))
    assert (beyond.read, seen) == (0, [])


async def test_a_rebuilds_requests_and_answers_in_the_log_are_never_replayed(
    connection: AbstractRobustConnection, publisher: Publisher, logged: AmqpSettings
) -> None:
    topology = Topology.from_settings(logged)
    tickets = Tickets(publisher)
    await publisher.publish_event(SnapshotRequested("0" * 32, "ticket", "orders"))
    await publisher.publish_event(SnapshotCompleted("0" * 32, "ticket", 0))
    await tickets.create()
    seen: list[str] = []

    async def note(_event: Any, delivery: Any) -> None:
        seen.append(delivery.routing_key)

    handlers: list[Subscription[Any]] = [
        Subscription(SnapshotRequested, note),
        Subscription(SnapshotCompleted, note),
        Subscription(TicketCreated, note),
    ]
    for window in (Window(), Window(events=("snapshot.*", "ticket.*"))):
        seen.clear()
        report = await replay(connection, topology, subscriptions=handlers, window=window)
        assert seen == ["ticket.created"]
        assert (report.read, report.applied, report.skipped) == (3, 1, 2)


async def test_a_replay_from_a_time_starts_at_the_first_event_published_since(
    connection: AbstractRobustConnection, publisher: Publisher, logged: AmqpSettings
) -> None:
    tickets = Tickets(publisher)
    await tickets.create()
    # Message timestamps are whole seconds: wait (a barrier, not a sleep) for the next one.
    boundary = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    await eventually(lambda: datetime.now(UTC) >= boundary, what="the next second")
    later = await tickets.create()

    report = await replay(
        connection, Topology.from_settings(logged), subscriptions=[], window=Window(boundary)
    )
    until = await replay(
        connection,
        Topology.from_settings(logged),
        subscriptions=[],
        window=Window(end=boundary - timedelta(seconds=1)),
    )

    assert later in tickets.state
    assert (report.read, report.offset) == (1, 1)
    assert (until.read, until.offset) == (1, 0)


def test_topic_patterns_match_as_rabbitmq_does() -> None:
    assert topic_match("ticket.*", "ticket.updated")
    assert not topic_match("ticket.*", "order.created")
    assert topic_match("#", "order.created")
    assert topic_match("*.created", "order.created")
    assert not topic_match("ticket", "ticket.created")
    assert topic_match("ticket.#", "ticket")


async def test_replaying_a_namespace_without_a_log_says_so(
    amqp: AmqpSettings, amqp_connection: AbstractRobustConnection
) -> None:
    with pytest.raises(EventLogMissing, match="no event log"):
        await replay(amqp_connection, Topology.from_settings(amqp), subscriptions=[],
                     window=Window())  # fmt: skip


# --------------------------------------------------------------------------- the command


def run_replay(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shared.messaging.replay", *args],
        env={**os.environ, **env}, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("option", "value"), [("--from", "yesterday"), ("--to", "12/01/2026"), ("--from", "-3")]
)
def test_a_bad_from_or_to_exits_2_with_a_clear_message(option: str, value: str) -> None:
    result = run_replay("--service", "orders", option, value)

    assert result.returncode == 2
    assert f"{option} must be an ISO-8601 time" in result.stderr
    assert repr(value) in result.stderr


def test_a_service_with_nothing_to_replay_into_exits_2() -> None:
    result = run_replay("--service", "nowhere")

    assert result.returncode == 2
    assert "no service 'nowhere'" in result.stderr


async def test_the_command_replays_through_orders_and_prints_a_summary(
    publisher: Publisher, logged: AmqpSettings, mongo: Mongo, mongo_settings: MongoSettings
) -> None:
    tickets = Tickets(publisher)
    await tickets.reprice(await tickets.create())
    env = {
        "MONGO_URL": urlunsplit(
            urlsplit(mongo_settings.url)._replace(path=f"/{mongo_settings.database}")
        ),
        "AMQP_URL": logged.url,
        "AMQP_NAMESPACE": logged.namespace,
        "EVENT_LOG_MAX_AGE": "1D",
        "MONGO_SERIALIZE_WRITES": "true",
    }

    result = await asyncio.to_thread(run_replay, "--service", "orders", "--events", "ticket.*",
                                     **env)  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "orders: replaying ticket.* from first to the end of the log" in result.stdout
    assert "done: read 2, applied 2, duplicates 0, deferred 0, skipped 0, offset 1" in result.stdout
    assert await replica(mongo) == tickets.state


async def test_a_window_past_the_log_reads_nothing_and_ends(
    connection: AbstractRobustConnection, publisher: Publisher, logged: AmqpSettings
) -> None:
    await Tickets(publisher).create()

    report = await replay(
        connection, Topology.from_settings(logged), subscriptions=[], window=Window(start=10**6)
    )

    assert report == ReplayReport()


async def test_the_log_gauges_say_how_many_entries_and_how_old_the_first(
    connection: AbstractRobustConnection, publisher: Publisher, logged: AmqpSettings
) -> None:
    topology = Topology.from_settings(logged)
    await refresh_log_metrics(connection, topology)
    assert (gauge("event_log_entries"), gauge("event_log_oldest_timestamp_seconds")) == (0, 0)
    before = datetime.now(UTC).replace(microsecond=0)
    tickets = Tickets(publisher)
    for _ in range(3):
        await tickets.create()

    await refresh_log_metrics(connection, topology)

    assert gauge("event_log_entries") == 3
    assert gauge("event_log_oldest_timestamp_seconds") >= before.timestamp()


def gauge(name: str) -> float:
    value = REGISTRY.get_sample_value(name)
    assert value is not None, name
    return value


async def test_a_service_with_other_retention_settings_keeps_the_existing_log(
    connection: AbstractRobustConnection, publisher: Publisher, logged: AmqpSettings, amqp_url: str
) -> None:
    assert logged.event_log is not None
    other = dataclasses.replace(
        logged, event_log=dataclasses.replace(logged.event_log, max_age="2D")
    )
    await Tickets(publisher).create()

    # RabbitMQ would refuse (406) a declaration with other arguments; starting does not fail.
    later = Publisher(connection, Topology.from_settings(other))
    await later.start()
    await later.publish_event(TicketCreated(str(ObjectId()), 0, "concert", 100, SELLER))
    await later.close()

    ends = await log_ends(connection, Topology.from_settings(logged))
    assert ends is not None
    assert ends.entries == 2
    if has_rabbitmqctl():
        queues = rabbitmqctl("list_queues", "-p", vhost_of(amqp_url), "name", "arguments").stdout
        line = next(
            q for q in queues.splitlines() if q.startswith(f"{logged.namespace}.ticketing.log\t")
        )
        assert '{"x-max-age","1D"}' in line


@pytest.mark.skipif(not has_rabbitmqctl(), reason="needs rabbitmqctl to set a policy")
async def test_a_policy_changes_the_retention_of_an_existing_log(
    amqp: AmqpSettings, amqp_url: str
) -> None:
    # Declared to keep 10 GB; the policy says 4000 bytes, and RabbitMQ applies it.
    roomy = dataclasses.replace(amqp, event_log=EventLogSettings(segment_bytes=1000))
    topology = Topology.from_settings(roomy)
    policy = f"{amqp.namespace}-log"
    pattern = f"^{amqp.namespace}\\.ticketing\\.log$"
    set_policy = rabbitmqctl(
        "set_policy", "-p", vhost_of(amqp_url), policy, pattern, '{"max-length-bytes":4000}',
        "--apply-to", "queues",
    )  # fmt: skip
    assert set_policy.returncode == 0, set_policy.stderr
    connection = await connect(roomy.url, connection_name="test-policy")
    try:
        publisher = Publisher(connection, topology)
        await publisher.start()
        ticket = TicketCreated(str(ObjectId()), 0, "x" * 200, 100, SELLER)
        for _ in range(60):
            await publisher.publish_event(ticket)

        async def truncated() -> bool:
            ends = await log_ends(connection, topology)
            return ends is not None and ends.first_offset > 0

        await eventually(truncated, what="the policy's retention to drop the first segments")
        await publisher.close()
    finally:
        await connection.close()
        rabbitmqctl("clear_policy", "-p", vhost_of(amqp_url), policy)
