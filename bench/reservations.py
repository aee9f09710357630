"""Reservations under contention: 10 buyers race for each of 100 tickets through the gateway.

Ours: the whole stack behind the real nginx gateway (``bench.gateway_stack``). A seller puts
``--tickets`` tickets on sale, and once orders' replica has every one, ``--buyers`` buyers
per ticket (each a user of their own, signed in by cookie) POST /api/orders for it, the
racers for one ticket side by side, ``--in-flight`` attempts open at a time. Each attempt is
a 201 (the winner) or a 400 "Ticket is already reserved".

The floor: the same attempts as raw PyMongo transactions on the same stand-in (orders' own
mongoeco server, in a database of its own): the conditional update that holds a free
ticket and the order insert, committed together, losers aborted. Like orders, it
serializes its transactions in-process on mongoeco (``MongoSettings.serialize_writes``) and
retries a transient conflict on a real MongoDB.

Reservations/s is attempts decided per second (winners and losers). Ours and the floor
alternate, ``--rounds`` of each, and the best round of each is reported. The check: exactly
one winner per ticket, in the answers and in orders' database; exit 1 if not.

    .venv/bin/python -m bench.reservations [--quick] [--json PATH] [--tickets 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import PyMongoError

from bench.gateway_stack import BenchStack, bench_stack
from bench.report import Row, cpu_seconds, table, write_json
from shared.messaging.outbox import COLLECTION as OUTBOX
from shared.messaging.uow import CONFLICT_ATTEMPTS, CONFLICT_BACKOFF_S
from shared.mongo import Document, is_write_conflict
from shared.testing.infra import given_mongo_url
from shared.testing.poll import eventually

TICKETS = 100
BUYERS_PER_TICKET = 10
# Attempts open at once: a client pool's worth, as a crowd's browsers would queue.
IN_FLIGHT = 100


@dataclass
class Round:
    tickets: list[str]
    latencies_s: list[float]
    winners: Counter[str]  # ticket id -> attempts answered as the winner
    errors: Counter[str]  # what an attempt got that is neither a win nor a loss
    seconds: float = 0.0
    standin_cpu: float | None = None
    # Tickets whose stored orders and holder disagree with the answers.
    stored_wrong: list[str] = field(default_factory=list)

    @property
    def attempts(self) -> int:
        return len(self.latencies_s)

    @property
    def per_s(self) -> float:
        return self.attempts / self.seconds

    @property
    def p99_ms(self) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)] * 1000

    @property
    def one_winner_each(self) -> bool:
        return all(self.winners[ticket] == 1 for ticket in self.tickets) and not self.stored_wrong

    def describe(self, who: str) -> str:
        errors = f", errors {dict(self.errors)}" if self.errors else ""
        return (
            f"{who}: {self.attempts} attempts in {self.seconds:.2f} s = {self.per_s:.1f}/s, "
            f"p99 {self.p99_ms:.0f} ms, winners {sum(self.winners.values())}{errors}"
        )


Attempt = Callable[[str], Awaitable[str]]  # ticket id -> "won", "lost" or an error


async def race(
    tickets: list[str], buyers: int, in_flight: int, attempt: Attempt, cpu: Callable[[], float]
) -> Round:
    """Every ticket's ``buyers`` attempts, the racers for one ticket next to each other.
    ``cpu``: the stand-in's CPU seconds so far, for its share of the round."""
    slots = asyncio.Semaphore(in_flight)
    result = Round(tickets, [], Counter(), Counter())

    async def one(ticket: str) -> None:
        async with slots:
            started = time.perf_counter()
            outcome = await attempt(ticket)
            result.latencies_s.append(time.perf_counter() - started)
        if outcome == "won":
            result.winners[ticket] += 1
        elif outcome != "lost":
            result.errors[outcome] += 1

    cpu_before, started = cpu(), time.perf_counter()
    await asyncio.gather(*(one(ticket) for ticket in tickets for _ in range(buyers)))
    result.seconds = time.perf_counter() - started
    result.standin_cpu = (cpu() - cpu_before) / result.seconds
    return result


# ---------------------------------------------------------------------------- ours


async def put_on_sale(http: aiohttp.ClientSession, bench: BenchStack, count: int) -> list[str]:
    seller = bench.cookies()

    async def sell(n: int) -> str:
        body = {"title": f"on sale {n}", "price": 20}
        async with http.post(f"{bench.url}/api/tickets", json=body, cookies=seller) as response:
            assert response.status == 201, await response.text()
            return str((await response.json())["id"])

    ids = await asyncio.gather(*(sell(n) for n in range(count)))
    # Buyers race only for tickets orders has heard of (ticket.created reached its replica).
    orders_db = AsyncMongoClient[Document](bench.mongo_url("orders"))[bench.database("orders")]
    keys = [ObjectId(i) for i in ids]

    async def replicated() -> bool:
        return await orders_db.tickets.count_documents({"_id": {"$in": keys}}) == count

    try:
        await eventually(replicated, timeout_s=60, interval_s=0.1, what="orders' replica")
    finally:
        await orders_db.client.close()
    return list(ids)


async def ours_round(bench: BenchStack, count: int, buyers: int, in_flight: int) -> Round:
    pid = bench.standin_pid("orders")

    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector) as http:
        tickets = await put_on_sale(http, bench, count)

        async def attempt(ticket: str) -> str:
            body = {"ticketId": ticket}
            try:
                url = f"{bench.url}/api/orders"
                async with http.post(url, json=body, cookies=bench.cookies()) as response:
                    await response.read()
                    return {201: "won", 400: "lost"}.get(response.status, str(response.status))
            except aiohttp.ClientError as exc:
                return type(exc).__name__

        result = await race(
            tickets, buyers, in_flight, attempt, lambda: cpu_seconds(pid) if pid else 0.0
        )
    if pid is None:
        result.standin_cpu = None  # a real MongoDB: no stand-in to blame
    result.stored_wrong = await stored_wrong(bench, tickets)
    return result


async def stored_wrong(bench: BenchStack, tickets: list[str]) -> list[str]:
    """The tickets for which orders did not store exactly one order, holding the ticket."""
    client = AsyncMongoClient[Document](bench.mongo_url("orders"))
    db = client[bench.database("orders")]
    wrong = []
    try:
        for ticket in tickets:
            orders = [doc["_id"] async for doc in db.orders.find({"ticket_id": ticket})]
            held = await db.tickets.find_one({"_id": ObjectId(ticket)})
            if len(orders) != 1 or held is None or held["held_by"] != str(orders[0]):
                wrong.append(ticket)
    finally:
        await client.close()
    return wrong


# ---------------------------------------------------------------------------- the floor


async def floor_round(mongo_url: str, count: int, buyers: int, in_flight: int) -> Round:
    client = AsyncMongoClient[Document](mongo_url, tz_aware=True)
    db = client[f"bench_floor_{ObjectId()}"]
    # Orders' own serialization of transactions on the stand-in (MongoSettings).
    lock = asyncio.Lock() if given_mongo_url() is None else None
    try:
        await db.create_collection("tickets")
        await db.create_collection("orders")
        tickets = [ObjectId() for _ in range(count)]
        await db.tickets.insert_many(
            [{"_id": t, "title": "on sale", "price_cents": 2000, "held_by": None} for t in tickets]
        )

        async def reserve(session: AsyncClientSession, ticket: ObjectId) -> bool:
            order_id = ObjectId()
            held = await db.tickets.update_one(
                {"_id": ticket, "held_by": None}, {"$set": {"held_by": order_id}}, session=session
            )
            if held.matched_count == 0:
                await session.abort_transaction()
                return False
            await db.orders.insert_one(
                {"_id": order_id, "ticket_id": ticket, "status": "created"}, session=session
            )
            return True

        async def transaction(ticket: ObjectId) -> bool:
            async with contextlib.AsyncExitStack() as held:
                if lock is not None:
                    await held.enter_async_context(lock)
                session = await held.enter_async_context(client.start_session())
                async with await session.start_transaction():
                    return await reserve(session, ticket)

        async def attempt(ticket: str) -> str:
            # Re-run on a write conflict, as orders' unit of work does (and with its backoff).
            for n in range(1, CONFLICT_ATTEMPTS + 1):
                try:
                    return "won" if await transaction(ObjectId(ticket)) else "lost"
                except PyMongoError as exc:
                    if not is_write_conflict(exc) or n == CONFLICT_ATTEMPTS:
                        return type(exc).__name__
                await asyncio.sleep(random.uniform(0, CONFLICT_BACKOFF_S * 2**n))
            raise AssertionError("unreachable")

        result = await race([str(t) for t in tickets], buyers, in_flight, attempt, lambda: 0.0)
        result.standin_cpu = None  # reported for ours only
        return result
    finally:
        await client.drop_database(db.name)
        await client.close()


# ---------------------------------------------------------------------------- the run


async def orders_quiet(bench: BenchStack, tickets: list[str]) -> None:
    """Orders is done with the round: its relay has published every order.created, and the
    ticket.updated each reservation causes (tickets marks the ticket reserved) is in its
    replica. On mongoeco, orders' transactions would conflict with the floor's on the same
    server otherwise."""
    client = AsyncMongoClient[Document](bench.mongo_url("orders"))
    db = client[bench.database("orders")]
    keys = [ObjectId(ticket) for ticket in tickets]

    async def settled() -> bool:
        unpublished = await db[OUTBOX].count_documents({"published_at": None})
        behind = await db.tickets.count_documents({"_id": {"$in": keys}, "version": {"$lt": 1}})
        return unpublished == 0 and behind == 0

    try:
        await eventually(settled, timeout_s=120, interval_s=0.1, what="orders to settle")
    finally:
        await client.close()


async def alternate(
    bench: BenchStack, count: int, buyers: int, in_flight: int, rounds: int
) -> tuple[list[Round], list[Round]]:
    ours: list[Round] = []
    floor: list[Round] = []
    for n in range(rounds):
        # Alternated, so the machine's noise falls on both alike.
        ours.append(await ours_round(bench, count, buyers, in_flight))
        print(ours[-1].describe(f"round {n + 1} ours "), flush=True)
        await orders_quiet(bench, ours[-1].tickets)
        floor.append(await floor_round(bench.mongo_url("orders"), count, buyers, in_flight))
        print(floor[-1].describe(f"round {n + 1} floor"), flush=True)
    return ours, floor


def main(count: int, buyers: int, in_flight: int, rounds: int, json_path: str | None) -> int:
    # The stack outside the event loop: stopping it tidies the broker with one of its own.
    with bench_stack() as bench:
        ours, floor = asyncio.run(alternate(bench, count, buyers, in_flight, rounds))

    best_ours = max(ours, key=lambda r: r.per_s)
    best_floor = max(floor, key=lambda r: r.per_s)
    note = f"{buyers} buyers x {count} tickets, {in_flight} in flight, best of {rounds}"
    rows = [
        Row(
            "reservations under contention",
            best_ours.per_s,
            best_floor.per_s,
            "attempts/s",
            0.8,
            "higher",
            best_ours.standin_cpu,
            note=f"{note}; peer: raw conditional update + insert transaction",
        ),
        Row(
            "p99 reserve latency under contention",
            min(r.p99_ms for r in ours),
            min(r.p99_ms for r in floor),
            "ms",
            0,
            "shown",
            best_ours.standin_cpu,
            note="through the gateway; the floor's beside it (no goal set)",
        ),
    ]
    print(table(rows))
    if json_path:
        write_json(json_path, rows)

    correct = True
    for who, results in (("ours", ours), ("floor", floor)):
        for n, result in enumerate(results, 1):
            exact = result.one_winner_each
            print(f"{who} round {n}: exactly one winner per ticket: {'yes' if exact else 'NO'}")
            if result.stored_wrong:
                print(f"  stored wrong for tickets {result.stored_wrong}")
            correct = correct and exact and not result.errors
    return 0 if correct else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=TICKETS)
    parser.add_argument("--buyers", type=int, default=BUYERS_PER_TICKET, help="per ticket")
    parser.add_argument("--in-flight", type=int, default=IN_FLIGHT)
    parser.add_argument("--rounds", type=int, default=3, help="of ours and of the floor")
    parser.add_argument("--quick", action="store_true", help="20 tickets, one round")
    parser.add_argument("--json", help="write the rows here (for bench.run)")
    args = parser.parse_args()
    if args.quick:
        args.tickets, args.rounds = 20, 1
    raise SystemExit(main(args.tickets, args.buyers, args.in_flight, args.rounds, args.json))
