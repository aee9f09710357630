"""The gateway holds an on-sale crowd: 2,000 clients connected at once, none dropped.

The whole stack behind the real nginx gateway (``bench.gateway_stack``). A seller puts a
ticket on sale; then ``--clients`` clients, each with a connection of its own, open the
ticket's page (GET /api/tickets/:id). Once every client has its first answer, all of them
hold an open connection to the gateway at the same moment (a barrier, not a guess); then
each asks ``--requests`` more times on it, all at once again.

Dropped: a connection refused, reset or closed under a request, a timeout, or a 502/503/504
(the gateway could not reach the service). The goal is none. The gateway's error log is
searched for nginx's own complaint ("worker_connections are not enough").

    .venv/bin/python -m bench.crowd [--quick] [--json PATH] [--clients 2000] [--requests 3]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.gateway_stack import BenchStack, bench_stack
from bench.report import Row, table, write_json

CLIENTS = 2000
REQUESTS = 3  # per client, after the first
# Statuses that mean the gateway lost the request on the way to the service.
UPSTREAM_LOST = {502, 503, 504}


def room_for(clients: int) -> None:
    """Enough file descriptors in this process for every client's socket."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = clients + 256
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


async def put_on_sale(bench: BenchStack) -> str:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{bench.url}/api/tickets",
            json={"title": "on sale now", "price": 20},
            cookies=bench.cookies(),
        ) as response,
    ):
        assert response.status == 201, await response.text()
        return str((await response.json())["id"])


@dataclass
class Outcomes:
    served: int = 0
    dropped: Counter[str] = field(default_factory=Counter)  # the connection failed under it
    unserved: Counter[str] = field(default_factory=Counter)  # a 502/503/504, or no answer
    latencies_s: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return self.served + self.dropped.total() + self.unserved.total()

    @property
    def p99_ms(self) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)] * 1000


async def crowd(url: str, clients: int, requests: int) -> Outcomes:
    outcomes = Outcomes()
    answered = 0
    everyone_in = asyncio.Event()
    timeout = aiohttp.ClientTimeout(total=60)

    async def ask(http: aiohttp.ClientSession) -> None:
        started = time.perf_counter()
        try:
            async with http.get(url) as response:
                await response.read()
                if response.status in UPSTREAM_LOST:
                    outcomes.unserved[f"HTTP {response.status}"] += 1
                else:
                    outcomes.served += 1
        except TimeoutError:
            outcomes.unserved["no answer in 60 s"] += 1
        except aiohttp.ClientError as exc:
            outcomes.dropped[type(exc).__name__] += 1
        outcomes.latencies_s.append(time.perf_counter() - started)

    async def client() -> None:
        nonlocal answered
        # One connection per client, kept open between its requests.
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            await ask(http)
            answered += 1
            if answered == clients:
                everyone_in.set()
            await everyone_in.wait()
            await asyncio.gather(*(ask(http) for _ in range(requests)))

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    outcomes.seconds = time.perf_counter() - started
    return outcomes


def complaints(error_log: Path) -> Counter[str]:
    """nginx's error log, each kind of complaint counted ("upstream timed out", ...)."""
    said: Counter[str] = Counter()
    for line in error_log.read_text().splitlines() if error_log.exists() else []:
        # 2026/12/01 16:40:10 [error] 12#12: *345 connect() failed (111: ...) while ..., client: ...
        message = re.sub(r"^.*?\] \d+#\d+: (\*\d+ )?", "", line).split(", client:")[0]
        said[re.sub(r"\d+", "N", message)[:120]] += 1
    return said


def main(clients: int, requests: int, json_path: str | None) -> int:
    room_for(clients)
    with bench_stack() as bench:
        ticket = asyncio.run(put_on_sale(bench))
        outcomes = asyncio.run(crowd(f"{bench.url}/api/tickets/{ticket}", clients, requests))
        assert bench.stack.gateway is not None
        said = complaints(bench.stack.gateway.root / "logs" / "error.log")

    rate = outcomes.requests / outcomes.seconds
    print(
        f"{clients} clients x {requests + 1} requests in {outcomes.seconds:.1f} s "
        f"({rate:.0f}/s), p99 {outcomes.p99_ms:.0f} ms: {outcomes.served} served, "
        f"dropped {dict(outcomes.dropped)}, not served {dict(outcomes.unserved)}"
    )
    for complaint, times in said.most_common(8):
        print(f"the gateway's error log, {times} times: {complaint}")
    note = (
        f"{clients} clients connected at once, {requests + 1} GET /api/tickets/:id each; "
        f"{rate:.0f} req/s, p99 {outcomes.p99_ms:.0f} ms"
    )
    if said:
        note += f"; the gateway logged {said.total()} errors, e.g. {said.most_common(1)[0][0]}"
    rows = [
        Row(
            "crowd: dropped connections",
            outcomes.dropped.total(),
            None,
            "conn",
            0,
            "absolute",
            note=f"{note}; {dict(outcomes.dropped)}" if outcomes.dropped else note,
        ),
        Row(
            "crowd: requests not served (502-504, no answer)",
            outcomes.unserved.total(),
            None,
            "req",
            0,
            "absolute",
            note=str(dict(outcomes.unserved)) if outcomes.unserved else "",
        ),
    ]
    print(table(rows))
    if json_path:
        write_json(json_path, rows)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--requests", type=int, default=REQUESTS, help="per client, after one")
    parser.add_argument("--quick", action="store_true", help="200 clients")
    parser.add_argument("--json", help="write the rows here (for bench.run)")
    args = parser.parse_args()
    raise SystemExit(main(200 if args.quick else args.clients, args.requests, args.json))
