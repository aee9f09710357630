"""The small chaos run in `make test`: 40 flows while every service process is killed once,
the broker and Redis restart and Stripe fails for a while. Nothing may break."""

from __future__ import annotations

import asyncio

from tools.chaos.faults import KILLABLE
from tools.chaos.report import render
from tools.chaos.run import RunConfig, run
from tools.chaos.stack import Hold, OwnStackSettings, own_target

FAULTS = {f"SIGKILL {name}" for name in KILLABLE} | {
    "RabbitMQ restart",
    "Redis restart",
    "Stripe outage",
}


def test_a_small_run_under_every_fault_keeps_every_promise() -> None:
    settings = OwnStackSettings(Hold(expiration_s=4, sweep_s=2, sweep_grace_s=3), "classic")

    with own_target(settings) as target:
        report = asyncio.run(run(target, RunConfig(flows=40, concurrency=6)))

    print(render(report))  # pytest shows it when the test fails
    assert {span.name for span in report.timeline.faults if span.happened} == FAULTS
    assert all(report.restarts[name] >= 1 for name in KILLABLE), report.restarts
    assert {c.name: c.violations[:5] for c in report.checks if c.violations} == {}
