"""Faults injected one after another while flows run, each recorded with its span.

A fault's span runs from the moment it is injected until the stack has recovered
(the process is back and ready, the broker answers again, ...): answers of 502/503/504
within it, or within the timeline's grace after it, are expected unavailability.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from deploy.local.probes import responds
from shared.testing.infra import has_rabbitmqctl, rabbitmqctl
from tools.chaos.stack import Target
from tools.chaos.timeline import FaultSpan, Timeline

KILLABLE = ("auth", "tickets", "orders", "payments", "expiration", "expiration.worker")
RECOVERY_S = 90.0  # the supervisor's backoff plus a service's start, with room to spare


class FaultSkipped(Exception):
    """The fault does not apply to this stack (a broker that is not local, say)."""


class FaultFailed(Exception):
    """The fault was injected but the stack did not recover from it in time."""


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[Target], Awaitable[str]]  # returns what happened, in a few words
    expected_s: float  # roughly how long it lasts, to pace the flows across a round


async def ready(target: Target, names: Sequence[str], timeout_s: float = RECOVERY_S) -> float:
    """Seconds until every process in ``names`` answers ``/readyz`` 200."""
    started = time.monotonic()
    for name in names:
        while True:
            process = target.state().processes.get(name)
            if process is not None and await asyncio.to_thread(responds, process.port, "/readyz"):
                break
            if time.monotonic() - started > timeout_s:
                raise FaultFailed(f"{name} not ready within {timeout_s:.0f}s")
            await asyncio.sleep(0.1)
    return time.monotonic() - started


def _is_ours(pid: int, module: str) -> bool:
    """The pid still runs the stack's process (never SIGKILL a reused pid)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return module.encode() in argv


def kill(name: str) -> Fault:
    async def inject(target: Target) -> str:
        before = target.state().processes.get(name)
        if before is None:
            raise FaultSkipped(f"{name} is not running in this stack")
        if not _is_ours(before.pid, before.module):
            raise FaultFailed(f"pid {before.pid} is not {before.module}")
        os.kill(before.pid, signal.SIGKILL)
        deadline = time.monotonic() + RECOVERY_S
        while True:
            now = target.state().processes[name]
            if now.restarts > before.restarts and now.pid != before.pid:
                break
            if time.monotonic() > deadline:
                raise FaultFailed(f"{name} was not restarted within {RECOVERY_S:.0f}s")
            await asyncio.sleep(0.1)
        took_s = await ready(target, [name])
        return (
            f"pid {before.pid} → {now.pid} (restarts {before.restarts} → {now.restarts}), "
            f"ready {took_s:.1f}s after its restart"
        )

    return Fault(f"SIGKILL {name}", inject, expected_s=1.5)


def restart_broker(down_s: float) -> Fault:
    """``rabbitmqctl stop_app``, a pause, ``start_app``: every connection drops."""

    async def inject(target: Target) -> str:
        if not target.broker_is_local() or not has_rabbitmqctl():
            raise FaultSkipped("the broker is not local (no rabbitmqctl for it)")
        steps: list[str] = []
        for command in (("stop_app",), ("start_app",), ("await_startup",)):
            started = time.monotonic()
            done = await asyncio.to_thread(rabbitmqctl, *command, timeout_s=180)
            if done.returncode != 0:
                raise FaultFailed(f"rabbitmqctl {command[0]}: {done.stderr.strip()}")
            steps.append(f"{command[0]} {time.monotonic() - started:.1f}s")
            if command == ("stop_app",):
                await asyncio.sleep(down_s)  # the outage itself
        took_s = await ready(target, _services(target))
        return f"{', '.join(steps)}; services ready {took_s:.1f}s later"

    return Fault("RabbitMQ restart", inject, expected_s=down_s + 3.0)


def restart_redis(down_s: float) -> Fault:
    """SIGKILL the run's own Redis and start a new, empty one: arq's jobs are lost."""

    async def inject(target: Target) -> str:
        redis = target.redis
        if redis is None:
            raise FaultSkipped("Redis is not the run's own (a stack at --url)")
        await asyncio.to_thread(redis.kill)
        await asyncio.sleep(down_s)
        await asyncio.to_thread(redis.start)
        took_s = await ready(target, ["expiration", "expiration.worker"])
        return f"down {down_s:.1f}s (jobs lost), expiration ready {took_s:.1f}s later"

    return Fault("Redis restart", inject, expected_s=down_s + 0.5)


def stripe_outage(seconds: float, error_rate: float, stall_ms: int) -> Fault:
    """Half the time quick 500s, half the time calls that stall ``stall_ms`` and then fail."""

    async def inject(target: Target) -> str:
        url = target.state().emulator_url()
        if url is None:
            raise FaultSkipped("real Stripe (no emulator) cannot be made to fail")
        failed: list[int] = []
        async with aiohttp.ClientSession() as http:
            for delay_ms in (0, stall_ms):
                body = {"error_rate": error_rate, "delay_ms": delay_ms, "seconds": seconds / 2}
                async with http.post(f"{url}/_emulator/faults", json=body) as response:
                    if response.status != 200:
                        raise FaultFailed(f"the emulator refused the fault: {response.status}")
                await asyncio.sleep(seconds / 2)
                async with http.delete(f"{url}/_emulator/faults") as response:
                    failed.append(int((await response.json())["faulted_calls"]))
        return (
            f"{error_rate:.0%} of calls failed for {seconds:.0f}s: {failed[0]} at once, "
            f"{failed[1]} after stalling {stall_ms} ms"
        )

    return Fault("Stripe outage", inject, expected_s=seconds)


def _services(target: Target) -> list[str]:
    return [name for name in target.state().processes if name in KILLABLE]


@dataclass(frozen=True)
class FaultPlan:
    kill: Sequence[str] = KILLABLE
    broker: bool = True
    redis: bool = True
    stripe: bool = True
    stripe_s: float = 8.0
    gap_s: float = 2.0


def schedule(plan: FaultPlan) -> list[Fault]:
    """One round: the kills with the broker, Redis and Stripe faults spread between them."""
    others = [
        *([stripe_outage(plan.stripe_s, 0.8, 2000)] if plan.stripe else []),
        *([restart_broker(2.0)] if plan.broker else []),
        *([restart_redis(1.0)] if plan.redis else []),
    ]
    faults: list[Fault] = []
    kills = [kill(name) for name in plan.kill]
    while kills or others:
        faults.extend(kills[:2])
        del kills[:2]
        if others:
            faults.append(others.pop(0))
    return faults


def round_s(faults: Sequence[Fault], gap_s: float) -> float:
    """Roughly how long one round of ``faults`` takes."""
    return sum(fault.expected_s + gap_s for fault in faults)


async def inject_rounds(
    target: Target,
    timeline: Timeline,
    faults: Sequence[Fault],
    gap_s: float,
    more: Callable[[], bool],
    say: Callable[[str], None],
) -> None:
    """Every fault once, then further rounds while ``more()`` (the flows are still running)."""
    while faults:
        for fault in faults:
            await asyncio.sleep(gap_s)
            span = FaultSpan(fault.name, timeline.now_s())
            timeline.faults.append(span)
            say(f"+{span.started_s:6.1f}s  {fault.name} ...")
            try:
                span.detail = await fault.inject(target)
                span.happened = True
            except FaultSkipped as exc:
                span.skipped = str(exc)
            except Exception as exc:  # a fault that goes wrong is reported, not fatal
                span.detail = f"FAILED: {exc}"
            span.ended_s = timeline.now_s()
            outcome = f"skipped: {span.skipped}" if span.skipped else span.detail
            say(f"+{span.ended_s:6.1f}s  {fault.name} ended: {outcome}")
        if not more():
            return
        await asyncio.sleep(0)
