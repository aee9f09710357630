"""The request path against its floor (issue 17): each of our services as its real process
under ``wrk``, beside a peer doing the same work in the same run.

- ``GET /api/users/currentuser`` signed in, on auth, against a bare aiohttp app (its own
  process, default ``run_app``) answering the very bytes ours answered: throughput, and CPU
  per request read from /proc.
- ``GET /api/tickets/:id`` on tickets, against a raw PyMongo ``find_one`` loop (as many
  concurrent finds as wrk has connections) on the same MongoDB.
- ``POST /api/tickets`` on tickets, against a raw transaction loop inserting a ticket and
  an outbox entry on the same MongoDB (serialized, as the services serialize writes, on the
  mongoeco stand-in; concurrent on a real MongoDB).
- RSS of every service process after the benchmarks, the largest.

Rounds alternate ours and the peer (ours, peer, peer, ours...) so the machine's noise, and
the store's growth, fall on both; a row gives the mean of its rounds. Each service gets a
mongoeco server of its own (as ``make up`` does), or a fresh database on ``MONGO_URL``;
RabbitMQ at ``AMQP_URL``.

    .venv/bin/python -m bench.request_path [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import mean
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from bench.report import Row, cpu_seconds, rss_mib, table, write_json
from deploy.local.hosts import DEFAULT_AMQP_URL
from deploy.local.keys import generate_keypair
from deploy.local.mongodb import MongoServer
from shared.auth.identity import COOKIE_NAME, encode_session_cookie
from shared.auth.tokens import TokenSigner
from shared.messaging.outbox import COLLECTION as OUTBOX
from shared.mongo import is_write_conflict
from shared.testing.infra import given_mongo_url, purge_namespaces
from shared.testing.poll import eventually
from shared.testing.services import free_port, wait_for

# What the services get of this process's environment besides what the run sets.
PASSED_ON = ("EVENT_LOOP", "LOG_LEVEL", "LOG_FORMAT")
TICKET_BODY = '{"title":"Bench night","price":10}'
POST_SCRIPT = f"""
wrk.method = "POST"
wrk.body = '{TICKET_BODY}'
wrk.headers["Content-Type"] = "application/json"
"""


@dataclass(frozen=True)
class Load:
    """How hard and how long each round drives its target."""

    connections: int
    duration_s: float
    rounds: int


@dataclass(frozen=True)
class Round:
    requests: int
    seconds: float
    cpu_s: float  # the measured process's CPU over the round
    standin_cpu_s: float  # the MongoDB stand-in's, 0 without one

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds


def mean_of(rounds: list[Round], value: Callable[[Round], float]) -> float:
    return mean(value(r) for r in rounds)


# -- the processes ----------------------------------------------------------------------


def with_database(url: str, database: str) -> str:
    """``url`` naming ``database`` (services read their database from the URL's path)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    mongo: MongoServer | None  # the stand-in, None on a given MONGO_URL
    mongo_url: str  # naming the service's database

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> str:
        return urlsplit(self.mongo_url).path.strip("/")

    def standin_cpu(self) -> float:
        return cpu_seconds(self.mongo.process.pid) if self.mongo else 0.0

    def standin_share(self, rounds: list[Round]) -> float | None:
        if self.mongo is None:
            return None
        return mean(r.standin_cpu_s / r.seconds for r in rounds)


@contextlib.contextmanager
def service(name: str, env: dict[str, str], log_dir: Path) -> Iterator[Service]:
    """``python -m services.<name>`` on a free port with a database of its own, ready."""
    given = given_mongo_url()
    mongo = None if given else MongoServer.start()
    base_url = given or (mongo.url if mongo else "")
    mongo_url = with_database(base_url, f"bench_{name}_{uuid.uuid4().hex[:8]}")
    port = free_port()
    child = {
        **env,
        "MONGO_URL": mongo_url,
        "MONGO_SERIALIZE_WRITES": str(mongo is not None).lower(),
        "PORT": str(port),
        "HOST": "127.0.0.1",
    }
    with (log_dir / f"{name}.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"], env=child, stdout=log, stderr=log
        )
    try:
        wait_for(port, timeout_s=60)
        yield Service(name, process, port, mongo, mongo_url)
    finally:
        try:
            stop(process)
        finally:
            if mongo is not None:
                mongo.stop()


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within its shutdown grace."""
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def bare_app(body: bytes) -> web.Application:
    """The floor for currentuser: one handler answering ``body`` as JSON."""

    async def currentuser(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/users/currentuser", currentuser)
    return app


@contextlib.contextmanager
def bare_peer(body: bytes) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The bare app in a process of its own (``--serve-bare``), and its currentuser URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.request_path", "--serve-bare", str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    assert process.stdin is not None
    process.stdin.write(body)
    process.stdin.close()
    try:
        wait_for(port, "/api/users/currentuser", timeout_s=30)
        yield process, f"http://127.0.0.1:{port}/api/users/currentuser"
    finally:
        stop(process)


def serve_bare(port: int) -> None:
    web.run_app(bare_app(sys.stdin.buffer.read()), host="127.0.0.1", port=port, print=None)


# -- driving them -----------------------------------------------------------------------

_REQUESTS = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b")
_FAILURES = re.compile(r"Non-2xx or 3xx responses: \d+|Socket errors: .*")
_UNIT_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def wrk(url: str, load: Load, *, cookie: str, script: str | None = None) -> tuple[int, float]:
    """Requests served and seconds taken; SystemExit when any answer was not 2xx."""
    argv = ["wrk", "-t1", f"-c{load.connections}", f"-d{load.duration_s:g}s"]
    argv += ["-H", f"Cookie: {cookie}"]
    if script is not None:
        argv += ["-s", script]
    output = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    found = _REQUESTS.search(output)
    if found is None:
        raise SystemExit(f"wrk said:\n{output}")
    if (failure := _FAILURES.search(output)) is not None:
        raise SystemExit(f"wrk against {url}: {failure.group(0)}\n{output}")
    return int(found.group(1)), float(found.group(2)) * _UNIT_S[found.group(3)]


def measured(
    pid: int, standin: Callable[[], float], drive: Callable[[], tuple[int, float]]
) -> Round:
    """One round of ``drive``, with the CPU ``pid`` and the stand-in spent meanwhile."""
    cpu, standin_cpu = cpu_seconds(pid), standin()
    requests, seconds = drive()
    return Round(requests, seconds, cpu_seconds(pid) - cpu, standin() - standin_cpu)


async def outbox_drained(db: Any, timeout_s: float = 120.0) -> None:
    """Wait until the service's relay has published every entry of its outbox."""

    async def drained() -> bool:
        return await db[OUTBOX].find_one({"published_at": None}) is None

    await eventually(drained, timeout_s=timeout_s, interval_s=0.1, what="tickets' outbox drained")


async def loop_for(load: Load, once: Callable[[], Awaitable[object]]) -> tuple[int, float]:
    """``load.connections`` tasks calling ``once`` back to back for the duration."""
    done = 0
    started = time.perf_counter()
    deadline = started + load.duration_s

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await once()
            done += 1

    await asyncio.gather(*(worker() for _ in range(load.connections)))
    return done, time.perf_counter() - started


def raw_find_one(mongo_url: str, ticket_id: str, load: Load) -> tuple[int, float]:
    """The floor for ticket show: the driver's ``find_one`` by ``_id``, nothing else."""

    async def run() -> tuple[int, float]:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
        tickets = client.get_default_database().tickets
        query = {"_id": ObjectId(ticket_id)}
        try:
            if await tickets.find_one(query) is None:
                raise SystemExit(f"raw find_one: no ticket {ticket_id}")
            return await loop_for(load, lambda: tickets.find_one(query))
        finally:
            await client.close()

    return asyncio.run(run())


def raw_transactions(mongo_url: str, load: Load, *, serialize: bool) -> tuple[int, float]:
    """The floor for ticket writes: a ticket and its outbox entry inserted in one
    transaction, serialized like the services' writes on the stand-in."""

    async def run() -> tuple[int, float]:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
        db = client.get_default_database()
        lock: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if serialize else contextlib.nullcontext()
        )

        async def once() -> None:
            ticket_id, now = ObjectId(), datetime.now(UTC)
            ticket: dict[str, Any] = {
                "_id": ticket_id,
                "title": "Bench night",
                "price_cents": 1000,
                "user_id": "bench",
                "version": 0,
                "order_id": None,
            }
            entry: dict[str, Any] = {
                "_id": uuid.uuid4().hex,
                "routing_key": "ticket.created",
                "subject": f"ticket:{ticket_id}",
                "body": TICKET_BODY,
                "headers": {},
                "created_at": now,
                "published_at": None,
                "lease_until": now,
            }
            while True:  # a conflict with tickets' relay (its marks) is tried again
                try:
                    async with (
                        lock,
                        client.start_session() as session,
                        await session.start_transaction(),
                    ):
                        await db.raw_tickets.insert_one(ticket, session=session)
                        await db.raw_outbox.insert_many([entry], session=session)
                    return
                except PyMongoError as exc:
                    if not is_write_conflict(exc):
                        raise

        try:
            # Tickets' relay still marking ours' entries would conflict with every commit.
            await outbox_drained(db)
            return await loop_for(load, once)
        finally:
            await client.close()

    return asyncio.run(run())


def alternate(
    ours: Callable[[], Round], peer: Callable[[], Round], rounds: int
) -> tuple[list[Round], list[Round]]:
    """ours, peer, peer, ours, ours, peer...: the machine's noise falls on both, and so does
    the store's growth (mongoeco's commits get slower as its data grows: who went second
    would always pay more)."""
    mine: list[Round] = []
    theirs: list[Round] = []
    for number in range(rounds):
        if number % 2 == 0:
            mine.append(ours())
            theirs.append(peer())
        else:
            theirs.append(peer())
            mine.append(ours())
    return mine, theirs


def request(url: str, cookie: str, body: str | None = None) -> bytes:
    headers = {"Cookie": cookie}
    if body is not None:
        headers["Content-Type"] = "application/json"
    sent = urllib.request.Request(url, data=body.encode() if body else None, headers=headers)
    with urllib.request.urlopen(sent, timeout=10) as response:
        answer: bytes = response.read()
        return answer


def per_s(rounds: list[Round]) -> float:
    return mean(r.per_s for r in rounds)


def cpu_us_per_request(rounds: list[Round]) -> float:
    return mean(r.cpu_s / r.requests * 1e6 for r in rounds)


def cpu_note(ours: list[Round], peer: list[Round]) -> str:
    """CPU per request of our process and the peer's, for a reader to see what binds."""
    mine, theirs = cpu_us_per_request(ours), cpu_us_per_request(peer)
    return f"CPU/request ours {mine:.0f} µs, peer {theirs:.0f} µs"


# -- the benchmark ----------------------------------------------------------------------


def session_cookie(private_key: str) -> str:
    token = TokenSigner(private_key, ttl_s=3600).sign(str(ObjectId()), "bench@test.com")
    return f"{COOKIE_NAME}={encode_session_cookie({'jwt': token})}"


def currentuser_rows(auth: Service, load: Load, cookie: str) -> list[Row]:
    url = f"{auth.url}/api/users/currentuser"
    body = request(url, cookie)
    if b"bench@test.com" not in body:
        raise SystemExit(f"currentuser is not signed in: {body!r}")
    with bare_peer(body) as (bare, bare_url):
        if request(bare_url, cookie) != body:
            raise SystemExit("the bare app does not answer currentuser's bytes")
        ours, peer = alternate(
            lambda: measured(
                auth.process.pid, auth.standin_cpu, lambda: wrk(url, load, cookie=cookie)
            ),
            lambda: measured(bare.pid, lambda: 0.0, lambda: wrk(bare_url, load, cookie=cookie)),
            load.rounds,
        )
    share = auth.standin_share(ours)
    return [
        Row(
            "currentuser throughput",
            per_s(ours),
            per_s(peer),
            "req/s",
            0.5,
            "higher",
            share,
            "peer: bare aiohttp, same JSON",
        ),
        Row(
            "currentuser CPU per request",
            cpu_us_per_request(ours),
            cpu_us_per_request(peer),
            "µs",
            2.0,
            "lower",
            share,
            "process CPU from /proc",
        ),
    ]


def ticket_rows(tickets: Service, load: Load, cookie: str, post_script: str) -> list[Row]:
    created = request(f"{tickets.url}/api/tickets", cookie, TICKET_BODY)
    ticket_id = str(json.loads(created)["id"])
    show = f"{tickets.url}/api/tickets/{ticket_id}"
    pid = tickets.process.pid
    ours, peer = alternate(
        lambda: measured(pid, tickets.standin_cpu, lambda: wrk(show, load, cookie=cookie)),
        lambda: measured(
            os.getpid(),
            tickets.standin_cpu,
            lambda: raw_find_one(tickets.mongo_url, ticket_id, load),
        ),
        load.rounds,
    )
    rows = [
        Row(
            "ticket show",
            per_s(ours),
            per_s(peer),
            "req/s",
            0.8,
            "higher",
            tickets.standin_share(ours),
            f"peer: raw PyMongo find_one loop; {cpu_note(ours, peer)}",
        )
    ]
    create = f"{tickets.url}/api/tickets"
    serialize = tickets.mongo is not None
    ours, peer = alternate(
        lambda: measured(
            pid, tickets.standin_cpu, lambda: wrk(create, load, cookie=cookie, script=post_script)
        ),
        lambda: measured(
            os.getpid(),
            tickets.standin_cpu,
            lambda: raw_transactions(tickets.mongo_url, load, serialize=serialize),
        ),
        load.rounds,
    )
    rows.append(
        Row(
            "ticket writes",
            per_s(ours),
            per_s(peer),
            "req/s",
            0.9,
            "higher",
            tickets.standin_share(ours),
            f"peer: raw transaction, ticket + outbox insert; {cpu_note(ours, peer)}",
        )
    )
    return rows


def run(load: Load, only: str | None = None) -> list[Row]:
    private_key, public_key = generate_keypair()
    cookie = session_cookie(private_key)
    amqp_url = os.environ.get("AMQP_URL", DEFAULT_AMQP_URL)
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AMQP_URL": amqp_url,
        "AMQP_NAMESPACE": namespace,
        "JWT_PRIVATE_KEY": private_key,
        "JWT_PUBLIC_KEY": public_key,
        "COOKIE_SECURE": "false",
        # Knobs to compare a change by: EVENT_LOOP=asyncio, LOG_LEVEL=WARNING ...
        **{name: os.environ[name] for name in PASSED_ON if name in os.environ},
    }
    rows: list[Row] = []
    rss: dict[str, float] = {}
    # The services' logs: removed after a clean run, kept to say why a run failed.
    logs = Path(tempfile.mkdtemp(prefix="request_path-"))
    try:
        script = logs / "post.lua"
        script.write_text(POST_SCRIPT)
        if only in (None, "auth"):
            with service("auth", env, logs) as auth:
                rows += currentuser_rows(auth, load, cookie)
                rss["auth"] = rss_mib(auth.process.pid)
        if only in (None, "tickets"):
            with service("tickets", env, logs) as tickets:
                rows += ticket_rows(tickets, load, cookie, str(script))
                rss["tickets"] = rss_mib(tickets.process.pid)
    except BaseException:
        print(f"the services' logs are in {logs}", file=sys.stderr)
        raise
    else:
        shutil.rmtree(logs)
    finally:
        try:
            purge_namespaces(amqp_url, [namespace])
        except Exception as exc:  # tidying never costs the figures
            print(f"could not delete the run's queues: {exc!r}", file=sys.stderr)
    largest = max(rss, key=rss.__getitem__)
    each = ", ".join(f"{name} {mib:.0f}" for name, mib in rss.items())
    rows.append(
        Row("RSS per service process", rss[largest], None, "MiB", 60, "absolute", note=each)
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of ours and of the peer")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", choices=("auth", "tickets"), help="one service's rows")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare is not None:
        serve_bare(args.serve_bare)
        return 0
    load = Load(args.connections, args.duration, args.rounds)
    if args.quick:
        load = Load(args.connections, 1.0, 1)
    rows = run(load, args.only)
    print(table(rows))
    if args.json:
        write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
