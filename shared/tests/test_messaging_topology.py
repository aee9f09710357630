"""Topology on a real broker: quorum queues, delayed retry, delivery limit, settings."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection

from shared.config import ConfigError, Env
from shared.messaging import AmqpSettings, ServiceQueues, Topology
from shared.messaging.redrive import ParkedMessage, list_parked
from shared.messaging.settings import EventLogSettings
from shared.testing.infra import has_rabbitmqctl, rabbitmqctl, vhost_of
from shared.testing.poll import eventually


def test_names_are_prefixed_by_the_namespace() -> None:
    topology = Topology(namespace="ns")

    names = topology.queue_names("orders")

    assert topology.exchange_name == "ns.ticketing"
    assert (names.main, names.retry, names.parked, names.requeue) == (
        "ns.orders",
        "ns.orders.retry",
        "ns.orders.parked",
        "ns.orders.requeue",
    )


def test_queues_dead_letter_through_the_services_requeue_exchange_not_the_default_one() -> None:
    topology = Topology(namespace="ns")

    main, retry = topology.main_arguments("orders"), topology.retry_arguments("orders")

    assert main["x-dead-letter-exchange"] == retry["x-dead-letter-exchange"] == "ns.orders.requeue"
    assert main["x-dead-letter-routing-key"] == "ns.orders.parked"
    assert retry["x-dead-letter-routing-key"] == "ns.orders"


def test_names_without_a_namespace_are_the_bare_service_names() -> None:
    topology = Topology()

    assert topology.exchange_name == "ticketing"
    assert topology.queue_names("tickets").parked == "tickets.parked"


def test_settings_are_read_from_the_environment() -> None:
    env = Env(
        {
            "AMQP_URL": "amqp://u:p@rabbit:5672/",
            "AMQP_NAMESPACE": "dev",
            "AMQP_PREFETCH": "4",
            "AMQP_RETRY_DELAY_MS": "250",
            "AMQP_MAX_RETRIES": "7",
            "AMQP_DELIVERY_LIMIT": "3",
            "OUTBOX_SWEEP_SECONDS": "1.5",
        }
    )

    settings = AmqpSettings.from_env(env)

    assert settings == AmqpSettings(
        url="amqp://u:p@rabbit:5672/",
        namespace="dev",
        prefetch=4,
        retry_delay_ms=250,
        max_retries=7,
        delivery_limit=3,
        sweep_interval_s=1.5,
        event_log=EventLogSettings(),
    )


def test_settings_need_an_amqp_url() -> None:
    with pytest.raises(ConfigError, match="AMQP_URL"):
        AmqpSettings.from_env(Env({}))


def test_settings_default_everything_but_the_url() -> None:
    settings = AmqpSettings.from_env(Env({"AMQP_URL": "amqp://localhost/"}))

    assert settings == AmqpSettings(url="amqp://localhost/", event_log=EventLogSettings())


@pytest.fixture
def amqp_settings(amqp_settings: AmqpSettings) -> AmqpSettings:
    """Quorum queues, what these tests are about (the suite's fixtures use classic ones)."""
    return replace(amqp_settings, queue_type="quorum")


@pytest.mark.skipif(not has_rabbitmqctl(), reason="needs rabbitmqctl to read queue arguments")
async def test_service_queues_are_quorum_with_at_least_once_dead_lettering(
    amqp_connection: AbstractRobustConnection, amqp_settings: AmqpSettings, amqp_url: str
) -> None:
    topology = Topology.from_settings(amqp_settings)
    channel = await amqp_connection.channel()
    await topology.declare_service_queues(channel, "svc", ["ticket.created"])

    listing = await asyncio.to_thread(
        rabbitmqctl, "list_queues", "-p", vhost_of(amqp_url), "name", "type", "arguments"
    )

    names = topology.queue_names("svc")
    rows = {
        line.split("\t")[0]: line
        for line in listing.stdout.splitlines()
        if line.startswith(amqp_settings.namespace)
    }
    assert set(rows) == {names.main, names.retry, names.parked}
    assert all("quorum" in row for row in rows.values())
    assert "at-least-once" in rows[names.main]
    assert names.parked in rows[names.main]
    assert names.requeue in rows[names.main]
    assert names.requeue in rows[names.retry]
    assert "at-least-once" in rows[names.retry]
    assert "x-message-ttl" in rows[names.retry]
    assert "x-delivery-limit" in rows[names.main]


async def test_declaring_the_queues_twice_with_the_same_settings_is_accepted(
    amqp_connection: AbstractRobustConnection, amqp_settings: AmqpSettings
) -> None:
    topology = Topology.from_settings(amqp_settings)

    first = await topology.declare_service_queues(
        await amqp_connection.channel(), "svc", ["ticket.created"]
    )
    again = await topology.declare_service_queues(
        await amqp_connection.channel(), "svc", ["ticket.created"]
    )

    assert first.names == again.names


async def retried(channel: AbstractChannel, queues: ServiceQueues) -> AbstractIncomingMessage:
    """A message put on the retry queue (as the consumer does), once back in the work queue."""
    requeue = await channel.get_exchange(queues.names.requeue)
    await requeue.publish(aio_pika.Message(b"{}", message_id="m1"), routing_key=queues.names.retry)
    message: AbstractIncomingMessage = await eventually(
        lambda: queues.main.get(fail=False, no_ack=True), what="the message back in the queue"
    )
    return message


async def test_a_message_put_on_the_retry_queue_comes_back_to_the_main_queue_after_the_delay(
    amqp_connection: AbstractRobustConnection, amqp_settings: AmqpSettings
) -> None:
    topology = Topology.from_settings(amqp_settings)
    channel = await amqp_connection.channel()
    queues = await topology.declare_service_queues(channel, "svc", ["ticket.created"])
    loop = asyncio.get_running_loop()
    sent_at = loop.time()

    message = await retried(channel, queues)

    assert message.message_id == "m1"
    assert loop.time() - sent_at >= amqp_settings.retry_delay_ms / 1000 * 0.9


async def test_a_message_whose_consumers_keep_dying_is_parked_after_the_delivery_limit(
    amqp_connection: AbstractRobustConnection, amqp_settings: AmqpSettings
) -> None:
    topology = Topology.from_settings(amqp_settings)
    queues = await topology.declare_service_queues(
        await amqp_connection.channel(), "svc", ["ticket.created"]
    )
    publish_channel = await amqp_connection.channel()
    exchange = await topology.declare_exchange(publish_channel)
    message_id = uuid.uuid4().hex
    await exchange.publish(
        aio_pika.Message(b"{}", message_id=message_id, type="ticket.created"),
        routing_key="ticket.created",
    )

    deliveries = 0
    parked: list[ParkedMessage] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not parked and loop.time() < deadline:
        # A consumer that takes the message and dies without acking: its channel closes.
        channel = await amqp_connection.channel()
        queue = await channel.declare_queue(queues.names.main, passive=True)
        message = await queue.get(no_ack=False, fail=False)
        await channel.close()
        if message is not None:
            deliveries += 1
        else:
            await asyncio.sleep(0.05)
            parked = await list_parked(amqp_connection, topology, "svc")

    assert deliveries == amqp_settings.delivery_limit + 1
    assert [(p.message_id, p.reason, p.type) for p in parked] == [
        (message_id, "delivery_limit", "ticket.created")
    ]


async def declare_as_before_the_requeue_exchange(
    channel: AbstractChannel, topology: Topology, service: str
) -> None:
    """The queues as the releases that dead-lettered through the default exchange left them."""
    names = topology.queue_names(service)
    await channel.declare_queue(names.parked, durable=True, arguments=topology.parked_arguments())
    for name, arguments in (
        (names.main, topology.main_arguments(service, legacy=True)),
        (names.retry, topology.retry_arguments(service, legacy=True)),
    ):
        assert arguments["x-dead-letter-exchange"] == ""
        await channel.declare_queue(name, durable=True, arguments=arguments)


async def test_queues_of_an_older_release_are_kept_and_retries_still_come_back(
    amqp_connection: AbstractRobustConnection, amqp_settings: AmqpSettings
) -> None:
    topology = Topology.from_settings(amqp_settings)
    await declare_as_before_the_requeue_exchange(await amqp_connection.channel(), topology, "svc")
    channel = await amqp_connection.channel()

    # Today's arguments would be refused (406); the old queues are declared as they are.
    queues = await topology.declare_service_queues(channel, "svc", ["ticket.created"])
    message = await retried(channel, queues)

    assert message.message_id == "m1"
    assert not channel.is_closed
