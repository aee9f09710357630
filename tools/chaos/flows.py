"""Purchase flows: a seller lists a ticket, buyers race for it, the winner does one thing.

Each kind is a way a buyer (or the clock) can end an order; ``run_flow`` records every
answer and the order's end state as orders reports it, and what the flow itself saw
go wrong (``problems``: violations) or merely surprising (``notes``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from shared.events import OrderStatus
from tools.chaos.users import Pool, Reply, User

GOOD_CARD = "pm_card_visa"
OTHER_GOOD_CARD = "tok_visa"  # a second, different payment method for the same buyer
DECLINED_CARD = "pm_card_chargeDeclined"
COMPLETE, CANCELLED = OrderStatus.COMPLETE, OrderStatus.CANCELLED
FINAL = (COMPLETE, CANCELLED)
SETTLE_POLL_S = 0.25


@dataclass
class FlowResult:
    index: int
    kind: str
    ticket_id: str | None = None
    order_id: str | None = None
    end: str = "not started"
    answers: dict[str, list[int]] = field(default_factory=dict)  # action → final statuses
    winners: list[str] = field(default_factory=list)  # every order a racing buyer was given
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def saw(self, action: str, reply: Reply) -> Reply:
        self.answers.setdefault(action, []).append(reply.status)
        return reply

    def describe(self) -> str:
        return f"flow #{self.index} {self.kind} ticket {self.ticket_id} order {self.order_id}"


@dataclass(frozen=True)
class Timing:
    """How long an order holds, and how long a flow waits for one to end."""

    longest_hold_s: float  # expiry plus the sweep's grace: the longest an order stays created
    settle_s: float  # beyond the hold and the sweep's grace


async def pay(buyer: User, order_id: str, card: str = GOOD_CARD) -> Reply:
    # 404 until payments has heard of the order by event.
    return await buyer.send(
        "POST", "/api/payments", {"orderId": order_id, "token": card}, retry_unknown=True
    )


async def cancel(buyer: User, order_id: str) -> Reply:
    return await buyer.send("DELETE", f"/api/orders/{order_id}", route="/api/orders/:id")


async def settle(buyer: User, order_id: str, timeout_s: float) -> str:
    """The order's status once it is complete or cancelled, or whatever it is at the end."""
    deadline = time.monotonic() + timeout_s
    status = "unknown"
    while True:
        reply = await buyer.send("GET", f"/api/orders/{order_id}", route="/api/orders/:id")
        if reply.status == 200:
            status = str(reply.body["status"])
        else:
            status = f"unreadable ({reply.status})"
        if status in FINAL or time.monotonic() > deadline:
            return status
        await asyncio.sleep(SETTLE_POLL_S)


Action = Callable[[User, str, FlowResult, Callable[[], Awaitable[str]]], Awaitable[None]]


async def just_pay(buyer: User, order_id: str, flow: FlowResult, _: object) -> None:
    if flow.saw("pay", await pay(buyer, order_id)).status != 201:
        flow.notes.append(f"pay answered {flow.answers['pay'][-1]}")


async def just_cancel(buyer: User, order_id: str, flow: FlowResult, _: object) -> None:
    flow.saw("cancel", await cancel(buyer, order_id))


async def pay_and_cancel(buyer: User, order_id: str, flow: FlowResult, _: object) -> None:
    paid, cancelled = await asyncio.gather(pay(buyer, order_id), cancel(buyer, order_id))
    flow.saw("pay", paid)
    flow.saw("cancel", cancelled)


async def let_expire(buyer: User, order_id: str, flow: FlowResult, _: object) -> None:
    """Nothing: the expiration service (or the sweep) cancels the order."""


async def decline_then_pay(buyer: User, order_id: str, flow: FlowResult, _: object) -> None:
    if flow.saw("pay declined", await pay(buyer, order_id, DECLINED_CARD)).status != 402:
        flow.notes.append(f"a declined card answered {flow.answers['pay declined'][-1]}")
    flow.saw("pay", await pay(buyer, order_id))


async def double_pay(buyer: User, order_id: str, flow: FlowResult, _: object) -> None:
    for reply in await asyncio.gather(
        pay(buyer, order_id, GOOD_CARD), pay(buyer, order_id, OTHER_GOOD_CARD)
    ):
        flow.saw("pay", reply)
    if 201 not in flow.answers["pay"]:
        flow.notes.append(f"neither of two payments went through: {flow.answers['pay']}")


async def pay_late(
    buyer: User, order_id: str, flow: FlowResult, ended: Callable[[], Awaitable[str]]
) -> None:
    if (status := await ended()) != CANCELLED:
        flow.notes.append(f"did not expire (is {status}); paid anyway")
    if flow.saw("pay late", await pay(buyer, order_id)).status != 400:
        flow.notes.append(f"a payment after expiry answered {flow.answers['pay late'][-1]}")


KINDS: dict[str, Action] = {
    "pay": just_pay,
    "cancel": just_cancel,
    "pay_and_cancel": pay_and_cancel,
    "expire": let_expire,
    "decline_then_pay": decline_then_pay,
    "double_pay": double_pay,
    "pay_late": pay_late,
}


async def run_flow(
    index: int, kind: str, seller: User, buyers: Sequence[User], timing: Timing, rng: random.Random
) -> FlowResult:
    flow = FlowResult(index, kind)
    started = time.monotonic()
    try:
        await _run(flow, seller, buyers, timing, rng)
    except Exception as exc:  # a crash of the tool is reported, not fatal to the run
        flow.problems.append(f"the flow crashed: {exc!r}")
    flow.seconds = time.monotonic() - started
    return flow


async def _run(
    flow: FlowResult, seller: User, buyers: Sequence[User], timing: Timing, rng: random.Random
) -> None:
    price = round(rng.uniform(5, 200), 2)
    listed = flow.saw(
        "list",
        await seller.send(
            "POST", "/api/tickets", {"title": f"chaos #{flow.index}", "price": price}
        ),
    )
    if listed.status != 201:
        flow.end = "not listed"
        flow.problems.append(f"listing a ticket answered {listed.status}: {listed.body}")
        return
    ticket_id = flow.ticket_id = str(listed.body["id"])
    # 404 until orders has heard of the ticket by event.
    race = await asyncio.gather(
        *(
            b.send("POST", "/api/orders", {"ticketId": ticket_id}, retry_unknown=True)
            for b in buyers
        )
    )
    winners = [(b, r) for b, r in zip(buyers, race, strict=True) if r.status == 201]
    for reply in race:
        flow.saw("order", reply)
    flow.winners = [str(r.body["id"]) for _, r in winners]
    if not winners:
        flow.end = "no order"
        flow.problems.append(f"no racing buyer got the ticket: {flow.answers['order']}")
        return
    if len(winners) > 1:
        # Legal only one after another: a buyer retrying through a fault for longer than
        # the hold may get the ticket once the first order has expired. The checks ask the
        # orders' database whether both were ever live (`race_winners`).
        flow.notes.append("two racing buyers got the ticket, one after the other")
    buyer, won = winners[0]
    order_id = flow.order_id = str(won.body["id"])
    wait_s = timing.longest_hold_s + timing.settle_s

    async def ended() -> str:
        return await settle(buyer, order_id, wait_s)

    await KINDS[flow.kind](buyer, order_id, flow, ended)
    flow.end = await ended()
    if flow.end not in FINAL:
        flow.problems.append(f"order still {flow.end} {wait_s:.0f}s after its flow")
    if 204 in flow.answers.get("cancel", []) and flow.end != CANCELLED:
        flow.problems.append(f"a cancellation was acknowledged (204) but the order is {flow.end}")


def plan(flows: int, kinds: Sequence[str], rng: random.Random) -> list[str]:
    """``flows`` kinds, as evenly spread as they divide, in random order."""
    planned = [kinds[i % len(kinds)] for i in range(flows)]
    rng.shuffle(planned)
    return planned


async def drive(
    pool: Pool,
    planned: Sequence[str],
    concurrency: int,
    timing: Timing,
    rng: random.Random,
    *,
    spacing_s: float = 0.0,
    on_done: Callable[[FlowResult], None] = lambda flow: None,
) -> list[FlowResult]:
    """Every planned flow, ``concurrency`` at a time, each with one to three racing buyers;
    flow ``i`` starts ``i * spacing_s`` in at the earliest, so a few flows span the faults."""
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int, kind: str) -> FlowResult:
        await asyncio.sleep(index * spacing_s)
        async with gate:
            seller, buyers = pool.take(rng.randint(1, 3), rng)
            try:
                result = await run_flow(index, kind, seller, buyers, timing, rng)
            finally:
                pool.give_back(buyers)
        on_done(result)
        return result

    return await asyncio.gather(*(one(i, kind) for i, kind in enumerate(planned)))
