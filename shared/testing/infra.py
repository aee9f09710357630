"""Finding and tidying the real infrastructure the tests use (a mongoeco server, the broker).

Starting the machine's brokers is the local stack's job (``deploy.local.hosts``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
import warnings
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aio_pika

from deploy.local.mongodb import MongoServer
from shared.mongo import MongoSettings

REPO_ROOT = Path(__file__).resolve().parents[2]


def given_mongo_url() -> str | None:
    """``MONGO_URL``: a real MongoDB replica set the tests and benches use instead of mongoeco."""
    return os.environ.get("MONGO_URL") or None


@contextmanager
def mongo_server_url() -> Iterator[str]:
    """The given MongoDB's URL, or a fresh mongoeco server's, stopped on exit."""
    if (given := given_mongo_url()) is not None:
        yield given
        return
    server = MongoServer.start()
    try:
        yield server.url
    finally:
        server.stop()


def fresh_database(url: str, prefix: str) -> MongoSettings:
    """Settings for a database of its own (``<prefix>_<random>``) on the server at ``url``."""
    return MongoSettings(
        url=url,
        database=f"{prefix}_{uuid.uuid4().hex[:10]}",
        # mongoeco needs a process's writes serialized around transactions (MongoSettings).
        serialize_writes=given_mongo_url() is None,
    )


def rabbitmqctl(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=timeout_s, check=False
    )


def has_rabbitmqctl() -> bool:
    return shutil.which("rabbitmqctl") is not None


def vhost_of(url: str) -> str:
    """The RabbitMQ virtual host an AMQP URL names (``/`` when it names none)."""
    return unquote(urlsplit(url).path[1:]) or "/"


def broker_names(*listing: str) -> list[str]:
    """The names a ``rabbitmqctl list_*`` call lists (``list_queues -p / name``)."""
    result = rabbitmqctl(*listing)
    return [line.strip() for line in result.stdout.splitlines()[1:] if line.strip()]


async def delete_queues_and_exchanges(url: str, queues: list[str], exchanges: list[str]) -> None:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        for queue in queues:
            await channel.queue_delete(queue)
        for exchange in exchanges:
            await channel.exchange_delete(exchange)
    finally:
        await connection.close()


def purge_namespaces(url: str, namespaces: Collection[str]) -> None:
    """Delete the queues and exchanges declared under ``namespaces`` (names ``<ns>.*``).

    Tests keep apart by namespace on one vhost; this tidies up after a session. (A vhost
    per session would be neater, but RabbitMQ 3.10 can deadlock when one session's
    ``add_vhost`` meets another's ``delete_vhost``, taking the whole broker with it.)
    """
    if not namespaces or not has_rabbitmqctl():
        return
    vhost = vhost_of(url)
    prefixes = tuple(f"{namespace}." for namespace in namespaces)
    queues = [n for n in broker_names("list_queues", "-p", vhost, "name") if n.startswith(prefixes)]
    exchanges = [
        n for n in broker_names("list_exchanges", "-p", vhost, "name") if n.startswith(prefixes)
    ]
    try:
        asyncio.run(delete_queues_and_exchanges(url, queues, exchanges))
    except Exception as exc:  # tidying must never fail a test run
        warnings.warn(f"could not delete test queues: {exc!r}", stacklevel=1)


def close_connections(connection_name: str) -> int:
    """Make the broker close every connection with this name; returns how many it closed."""
    listing = rabbitmqctl("list_connections", "pid", "client_properties")
    closed = 0
    for line in listing.stdout.splitlines():
        if f'"{connection_name}"' in line or f'<<"{connection_name}">>' in line:
            pid = line.split("\t", 1)[0]
            result = rabbitmqctl("close_connection", pid, "closed by test")
            closed += result.returncode == 0
    return closed
