"""One chaos run: flows and faults at once, then quiescence, then the checks."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tools.chaos.faults import FaultPlan, inject_rounds, round_s, schedule
from tools.chaos.flows import KINDS, FlowResult, Timing, drive, plan
from tools.chaos.invariants import busy_reasons, check_all
from tools.chaos.report import Report
from tools.chaos.stack import Target
from tools.chaos.stores import Snapshot, Stores
from tools.chaos.timeline import Timeline
from tools.chaos.users import Pool, user_pool

QUIET_CHECKS = 2  # in a row: a message in flight between two reads is not quiet


@dataclass(frozen=True)
class RunConfig:
    flows: int = 40
    concurrency: int = 6
    seed: int | None = None
    kinds: Sequence[str] = tuple(KINDS)
    faults: FaultPlan = field(default_factory=FaultPlan)
    grace_s: float = 15.0  # after a fault, how long a 502/503/504 is still expected
    patience_s: float = 90.0  # how long a buyer retries one request through a fault
    settle_s: float = 60.0  # how long past its hold a flow waits for its order to end
    quiesce_timeout_s: float = 120.0


async def quiesce(
    stores: Stores, ticket_ids: list[str], timeout_s: float
) -> tuple[float | None, list[str]]:
    """Seconds until nothing is in flight (checked repeatedly, never a blind sleep), or
    None and what was still busy at the timeout."""
    started = time.monotonic()
    quiet = 0
    while True:
        busy = busy_reasons(await stores.snapshot(ticket_ids, with_stripe=False))
        quiet = 0 if busy else quiet + 1
        if quiet >= QUIET_CHECKS:
            return time.monotonic() - started, []
        if time.monotonic() - started > timeout_s:
            return None, busy
        await asyncio.sleep(0.5)


async def run(target: Target, config: RunConfig, say: Callable[[str], None] = print) -> Report:
    timeline = Timeline(grace_s=config.grace_s)
    seed = config.seed if config.seed is not None else random.randrange(1_000_000)
    say(f"seed {seed} (--seed {seed} plans the same flows again)")
    rng = random.Random(seed)
    auth = target.state().processes.get("auth")
    signup_base = f"http://127.0.0.1:{auth.port}" if auth else None
    timing = Timing(
        longest_hold_s=target.hold.expiration_s + target.hold.overdue_s, settle_s=config.settle_s
    )
    size = Pool.size_for(config.concurrency)
    say(f"signing up {size} users")
    async with user_pool(
        target.url, size, timeline, patience_s=config.patience_s, signup_base=signup_base
    ) as pool:
        planned = plan(config.flows, config.kinds, rng)
        faulty = schedule(config.faults)
        # Flows start spread over a round of faults at least, so faults meet traffic.
        spacing_s = round_s(faulty, config.faults.gap_s) / max(config.flows, 1)
        say(f"{config.flows} flows, {config.concurrency} at a time; faults as they happen:")
        done: list[FlowResult] = []
        every = max(config.flows // 10, 1)

        def progress(flow: FlowResult) -> None:
            done.append(flow)
            if len(done) % every == 0:
                broken = sum(bool(f.problems) for f in done)
                say(f"+{timeline.now_s():6.1f}s  {len(done)} flows done ({broken} with problems)")

        flows = asyncio.create_task(
            drive(
                pool,
                planned,
                config.concurrency,
                timing,
                rng,
                spacing_s=spacing_s,
                on_done=progress,
            )
        )
        faults = asyncio.create_task(
            inject_rounds(
                target,
                timeline,
                faulty,
                config.faults.gap_s,
                more=lambda: not flows.done(),
                say=say,
            )
        )
        results = await flows
        await faults
    ticket_ids = [f.ticket_id for f in results if f.ticket_id]
    say(f"flows done at +{timeline.now_s():.1f}s; waiting for quiescence")
    state = target.state()
    async with Stores.opened(state) as stores:
        quiet_s, busy = await quiesce(stores, ticket_ids, config.quiesce_timeout_s)
        snapshot: Snapshot = await stores.snapshot(ticket_ids, with_stripe=True)
    checks = check_all(
        snapshot,
        results,
        timeline,
        overdue_s=target.hold.overdue_s,
        busy=busy,
        quiesce_timeout_s=config.quiesce_timeout_s,
    )
    restarts = {name: p.restarts for name, p in state.processes.items()}
    return Report(target.url, results, timeline, checks, quiet_s, restarts)
