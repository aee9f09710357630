"""The kept stores' generation, ``make reset``, and the mongoeco server that keeps a store:
on the real broker, Redis and mongoeco server, no stack."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
import redis
from pymongo import AsyncMongoClient

from deploy.local.generations import (
    expiration_queue,
    family,
    holding,
    open_generation,
    store_path,
)
from deploy.local.hosts import DEFAULT_REDIS_URL
from deploy.local.mongodb import MongoServer
from deploy.local.reset import reset
from shared.testing.infra import broker_names, has_rabbitmqctl, vhost_of

SERVICES = {"auth", "orders"}

REDIS_URL = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)


def make_stores(data_dir: Path) -> str:
    generation = open_generation(data_dir, SERVICES)
    for service in SERVICES:
        store_path(data_dir, service).write_text("a store")
    return generation.id


def test_a_folder_with_its_generation_and_every_store_keeps_them(tmp_path: Path) -> None:
    kept = make_stores(tmp_path)

    generation = open_generation(tmp_path, SERVICES)

    assert (generation.id, generation.new) == (kept, False)
    assert store_path(tmp_path, "orders").read_text() == "a store"


def test_a_folder_missing_a_store_gets_a_new_generation_and_no_old_store(tmp_path: Path) -> None:
    old = make_stores(tmp_path)
    store_path(tmp_path, "auth").unlink()

    generation = open_generation(tmp_path, SERVICES)

    assert generation.new
    assert generation.id != old
    assert not store_path(tmp_path, "orders").exists()
    assert generation.namespace.startswith(family(tmp_path))


def test_two_folders_never_share_a_family(tmp_path: Path) -> None:
    assert family(tmp_path / "a") != family(tmp_path / "b")


def test_reset_refuses_while_a_stack_holds_the_folder(tmp_path: Path, amqp_url: str) -> None:
    make_stores(tmp_path)

    with holding(tmp_path), pytest.raises(SystemExit, match="stop `make up`"):
        reset(tmp_path, amqp_url, REDIS_URL)

    assert store_path(tmp_path, "orders").exists()


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


async def declare_with_a_message(amqp_url: str, namespace: str) -> None:
    """What a generation leaves in the broker: its exchange, and a queue holding a message."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        await channel.declare_exchange(f"{namespace}.ticketing", aio_pika.ExchangeType.TOPIC)
        queue = await channel.declare_queue(f"{namespace}.orders.parked")
        await channel.default_exchange.publish(aio_pika.Message(b"{}"), routing_key=queue.name)
    finally:
        await connection.close()


def left_in_broker(amqp_url: str, namespace: str) -> list[str]:
    vhost = vhost_of(amqp_url)
    names = broker_names("list_queues", "-p", vhost, "name")
    names += broker_names("list_exchanges", "-p", vhost, "name")
    return sorted(name for name in names if name.startswith(f"{namespace}."))


@pytest.mark.skipif(not has_rabbitmqctl(), reason="needs rabbitmqctl")
def test_reset_wipes_the_stores_queues_and_jobs_of_the_folder_and_no_other_folders(
    tmp_path: Path, amqp_url: str, redis_client: redis.Redis
) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    namespaces = [f"{family(ours)}{make_stores(ours)}", f"{family(theirs)}{make_stores(theirs)}"]
    for namespace in namespaces:
        asyncio.run(declare_with_a_message(amqp_url, namespace))
        redis_client.zadd(expiration_queue(namespace), {"expire:1": 1})
        redis_client.set(f"{expiration_queue(namespace)}:health-check", b"ok")
        redis_client.set("arq:job:expire:1", b"job")

    reset(ours, amqp_url, REDIS_URL)

    try:
        assert sorted(p.name for p in ours.iterdir()) == ["lock"]
        assert left_in_broker(amqp_url, namespaces[0]) == []
        queue = expiration_queue(namespaces[0])
        assert redis_client.exists(queue, f"{queue}:health-check", "arq:job:expire:1") == 0
        assert left_in_broker(amqp_url, namespaces[1]) == [
            f"{namespaces[1]}.orders.parked",
            f"{namespaces[1]}.ticketing",
        ]
        assert redis_client.exists(expiration_queue(namespaces[1])) == 1
    finally:
        reset(theirs, amqp_url, REDIS_URL)


@pytest.fixture
async def kept_server(tmp_path: Path) -> AsyncIterator[MongoServer]:
    server = MongoServer.start(data=tmp_path / "store.sqlite")
    yield server
    server.stop()


async def test_a_kept_store_runs_other_sessions_reads_and_writes_around_a_transaction(
    kept_server: MongoServer,
) -> None:
    # mongoeco's SQLite engine alone fails every other session's command while a
    # transaction is open; the server holds them until it ends. Raced: a transaction of two
    # writes against reads and plain writes, round after round.
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(kept_server.url)
    tickets = client.store.tickets
    await tickets.insert_one({"_id": 1, "version": 0})

    async def two_writes_in_a_transaction() -> None:
        async with client.start_session() as session, await session.start_transaction():
            for _ in range(2):
                await tickets.update_one({"_id": 1}, {"$inc": {"version": 1}}, session=session)

    async def read_version() -> int:
        ticket = await tickets.find_one({"_id": 1})
        assert ticket is not None
        return int(ticket["version"])

    try:
        for _ in range(10):
            _, _, versions = await asyncio.gather(
                two_writes_in_a_transaction(),
                client.store.log.insert_one({}),
                asyncio.gather(*(read_version() for _ in range(4))),
            )
            assert all(version % 2 == 0 for version in versions)  # never half a transaction
        assert await read_version() == 20
        assert await client.store.log.count_documents({}) == 10
    finally:
        await client.close()


async def test_a_kept_store_outlives_its_server(tmp_path: Path) -> None:
    data = tmp_path / "store.sqlite"
    for expected in (0, 1):
        server = MongoServer.start(data=data)
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(server.url)
        try:
            assert await client.store.tickets.count_documents({}) == expected
            await client.store.tickets.insert_one({"title": "Concert"})
        finally:
            await client.close()
            server.stop()


# Opens a transaction, writes in it, says so, and waits to be killed.
ABANDONING_CLIENT = """
import asyncio, sys
from pymongo import AsyncMongoClient

async def main():
    client = AsyncMongoClient(sys.argv[1])
    session = client.start_session()
    await session.start_transaction()
    await client.store.tickets.update_one({"_id": 1}, {"$inc": {"version": 1}}, session=session)
    print("IN", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_a_transaction_whose_process_died_is_rolled_back_and_the_others_go_on(
    kept_server: MongoServer,
) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(kept_server.url)
    try:
        await client.store.tickets.insert_one({"_id": 1, "version": 0})
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", ABANDONING_CLIENT, kept_server.url, stdout=subprocess.PIPE
        )
        assert process.stdout is not None
        assert await process.stdout.readline() == b"IN\n"
        process.kill()
        await process.wait()

        assert await client.store.tickets.find_one({"_id": 1}) == {"_id": 1, "version": 0}
        await client.store.tickets.update_one({"_id": 1}, {"$inc": {"version": 1}})
        assert await client.store.tickets.find_one({"_id": 1}) == {"_id": 1, "version": 1}
    finally:
        await client.close()
