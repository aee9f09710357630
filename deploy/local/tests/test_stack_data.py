"""``make up``'s kept data, run for real: a restart keeps the stores with their queues and
expiry jobs, and new stores never start beside an old generation's messages.

Each test runs whole stacks (on free ports, but run them under
``flock /tmp/ticketing-e2e.lock`` like every stack test: they are heavy).
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import aio_pika
import pytest
import redis

from deploy.local.banner import COOKIE_JAR, try_commands
from deploy.local.hosts import DEFAULT_REDIS_URL
from deploy.local.reset import reset
from deploy.local.stack import Stack, running_stack
from services.expiration.domain import expiry_job_id
from shared.testing.infra import broker_names, has_rabbitmqctl, vhost_of
from shared.testing.poll import eventually
from shared.testing.services import free_port
from tools.chaos.stack import free_port_offset

pytestmark = pytest.mark.skipif(not has_rabbitmqctl(), reason="needs rabbitmqctl")

REDIS_URL = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)


@pytest.fixture
def env(amqp_url: str, jwt_keys: tuple[str, str]) -> dict[str, str]:
    return {
        "AMQP_URL": amqp_url,
        "AMQP_QUEUE_TYPE": "classic",  # as the other stack tests: see AmqpSettings.queue_type
        "MONGO_URL": "",  # mongoeco, whose stores the stack keeps, even when MONGO_URL is set
        "LOG_LEVEL": "WARNING",
        "AUTH_SCRYPT_LOG2_N": "14",
        # Given, so that the sessions of the first run are good on the next (as .run/jwt is).
        "JWT_PRIVATE_KEY": jwt_keys[0],
        "JWT_PUBLIC_KEY": jwt_keys[1],
    }


def poll(predicate: Callable[[], Any], what: str) -> Any:
    """``eventually`` for these tests, which are not async: a stack starts and stops
    blocking, and its sweep runs an event loop of its own."""
    return asyncio.run(eventually(predicate, timeout_s=20, what=what))


@pytest.fixture
def data_dir(tmp_path: Path, amqp_url: str, env: dict[str, str]) -> Iterator[Path]:
    """A stack's data folder; wiped after the test with its queues and jobs (make reset)."""
    yield tmp_path / "data"
    reset(tmp_path / "data", amqp_url, REDIS_URL)


def kept_stack(data_dir: Path, env: dict[str, str]) -> Any:
    return running_stack(free_port(), env=env, port_offset=free_port_offset(), data_dir=data_dir)


def run_banner_commands(url: str, cwd: Path) -> list[Any]:
    """Each command the ready banner suggests, run as a user would paste it; their answers."""
    (cwd / COOKIE_JAR).parent.mkdir(parents=True, exist_ok=True)
    answers = []
    for _, command in try_commands(url):
        done = subprocess.run(
            ["bash", "-c", command], cwd=cwd, capture_output=True, text=True, check=True
        )
        answers.append(json.loads(done.stdout))
    return answers


BUYER_JAR = ".run/buyer.txt"


def curl(
    cwd: Path, url: str, body: dict[str, Any] | None = None, *, jar: str = COOKIE_JAR
) -> tuple[int, Any]:
    """(status, JSON answer) of a request with a session (the banner's: the seller's)."""
    command = f"curl -s -w '\\n%{{http_code}}' -b {jar} -c {jar} {shlex.quote(url)}"
    if body is not None:
        command += f" -H 'Content-Type: application/json' -d {shlex.quote(json.dumps(body))}"
    done = subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True)
    answer, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(answer) if answer else None


def place_order(cwd: Path, stack: Stack, ticket_id: str) -> dict[str, Any]:
    """A buyer's order for the ticket (the seller may not buy their own)."""
    buyer = {"email": "buyer@example.com", "password": "correct-horse"}
    status, _ = curl(cwd, f"{stack.url}/api/users/signup", buyer, jar=BUYER_JAR)
    assert status == 201

    def placed() -> Any:
        # 404 until orders has heard of the ticket (ticket.created).
        status, order = curl(cwd, f"{stack.url}/api/orders", {"ticketId": ticket_id}, jar=BUYER_JAR)
        return order if status == 201 else None

    order: dict[str, Any] = poll(placed, "the order placed")
    return order


def expiry_job(stack: Stack, order_id: str) -> float | None:
    """When the order's expiry job is due (its score in the stack's arq queue), if queued."""
    assert stack.generation is not None
    client = redis.Redis.from_url(stack.child_env["REDIS_URL"])
    try:
        due = client.zscore(stack.generation.expiration_queue, expiry_job_id(order_id))
        return None if due is None else float(cast(float, due))
    finally:
        client.close()


def broker_objects_of(amqp_url: str, namespace: str) -> list[str]:
    prefix, vhost = f"{namespace}.", vhost_of(amqp_url)
    listed = broker_names("list_queues", "-p", vhost, "name") + broker_names(
        "list_exchanges", "-p", vhost, "name"
    )
    return [name for name in listed if name.startswith(prefix)]


def test_a_restart_keeps_the_stores_with_their_queues_and_expiry_jobs(
    tmp_path: Path, data_dir: Path, env: dict[str, str]
) -> None:
    with kept_stack(data_dir, env) as first:
        assert first.generation is not None
        assert first.generation.new
        user, ticket, listed = run_banner_commands(first.url, tmp_path)
        assert user["email"]
        assert listed == [ticket]
        order = place_order(tmp_path, first, ticket["id"])
        due = poll(lambda: expiry_job(first, order["id"]), "the expiry job")

    with kept_stack(data_dir, env) as second:
        assert first.generation is not None
        assert second.generation == replace(first.generation, new=False)
        assert second.child_env["AMQP_NAMESPACE"] == first.child_env["AMQP_NAMESPACE"]
        # (Reserved, it is off the list of tickets for sale.)
        status, kept = curl(tmp_path, f"{second.url}/api/tickets/{ticket['id']}")
        assert status == 200
        assert kept["orderId"] == order["id"]
        status, orders = curl(tmp_path, f"{second.url}/api/orders", jar=BUYER_JAR)
        assert status == 200
        assert [(o["id"], o["status"]) for o in orders] == [(order["id"], "created")]
        assert expiry_job(second, order["id"]) == due


def test_new_stores_start_without_any_queue_or_job_of_the_old_generation(
    tmp_path: Path, data_dir: Path, env: dict[str, str], amqp_url: str
) -> None:
    with kept_stack(data_dir, env) as first:
        _, ticket, _ = run_banner_commands(first.url, tmp_path)
        order = place_order(tmp_path, first, ticket["id"])
        poll(lambda: expiry_job(first, order["id"]), "the expiry job")
        old = first.generation
        assert old is not None
    # What the issue found after restarts: messages parked for orders the stores lost.
    asyncio.run(park_a_message(amqp_url, f"{old.namespace}.orders.parked"))
    shutil.rmtree(data_dir)  # the stores are lost

    with kept_stack(data_dir, env) as second:
        assert second.generation is not None
        assert second.generation.new
        assert second.generation.id != old.id
        assert broker_objects_of(amqp_url, old.namespace) == []
        client = redis.Redis.from_url(second.child_env["REDIS_URL"])
        try:
            assert client.exists(old.expiration_queue, f"arq:job:{expiry_job_id(order['id'])}") == 0
        finally:
            client.close()
        _, tickets = curl(tmp_path, f"{second.url}/api/tickets")
        assert tickets == []


async def park_a_message(amqp_url: str, queue: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        await channel.declare_queue(queue, passive=True)
        await channel.default_exchange.publish(aio_pika.Message(b"{}"), routing_key=queue)
    finally:
        await connection.close()
