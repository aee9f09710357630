"""The local stack's supervisor: the backoff policy on a clock of the test's own, and the
restarts on real child processes (tiny ``python -c`` programs) killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.console import say
from deploy.local.supervisor import Backoff, Supervisor
from shared.testing.poll import eventually

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def exits_with(status: int) -> list[str]:
    return [sys.executable, "-c", f"raise SystemExit({status})"]


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


def an_env() -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "SUPERVISED_MARK": uuid.uuid4().hex}


def argv_of(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def env_of(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")[:-1]
    return dict(pair.split("=", 1) for pair in pairs)


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    """A supervisor on the real clock that says its lines through the stack's ``say``."""
    running = Supervisor(say)
    yield running
    running.stop()


# ---------------------------------------------------------------------------- the policy


def delays_for_exits_after(
    backoff: Backoff, clock: FakeClock, up_s: float, exits: int
) -> list[float]:
    delays = []
    for _ in range(exits):
        backoff.started()
        clock.advance(up_s)
        delay_s = backoff.delay_s()
        delays.append(delay_s)
        clock.advance(delay_s)
    return delays


def test_restarts_in_a_row_wait_half_a_second_doubling_up_to_ten() -> None:
    clock = FakeClock()
    backoff = Backoff(clock)

    delays = delays_for_exits_after(backoff, clock, up_s=1, exits=7)

    assert delays == [0.5, 1, 2, 4, 8, 10, 10]


def test_a_minute_up_starts_the_backoff_again_from_half_a_second() -> None:
    clock = FakeClock()
    backoff = Backoff(clock)
    delays_for_exits_after(backoff, clock, up_s=1, exits=5)

    after_a_minute = delays_for_exits_after(backoff, clock, up_s=60, exits=1)

    assert after_a_minute == [0.5]


def test_less_than_a_minute_up_keeps_doubling() -> None:
    clock = FakeClock()
    backoff = Backoff(clock)
    delays_for_exits_after(backoff, clock, up_s=1, exits=3)

    just_short = delays_for_exits_after(backoff, clock, up_s=59.9, exits=1)

    assert just_short == [4]


# ---------------------------------------------------------------------------- real children


async def test_a_killed_child_is_restarted_with_the_same_argv_and_environment(
    supervisor: Supervisor, capsys: pytest.CaptureFixture[str]
) -> None:
    env = an_env()
    supervisor.start("sleeper", SLEEPER, env, cwd=None)
    supervisor.run_in_background()
    first = supervisor.pid("sleeper")
    assert first is not None

    os.kill(first, signal.SIGKILL)

    def restarted() -> int | None:
        pid = supervisor.pid("sleeper")
        return None if pid in (None, first) else pid

    second = await eventually(restarted, what="a new process")
    assert supervisor.restarts("sleeper") == 1
    assert argv_of(second) == SLEEPER
    assert env_of(second) == env
    assert capsys.readouterr().out == "[stack] sleeper exited (signal 9); restarting in 0.5 s\n"


async def test_a_child_that_exits_by_itself_is_restarted_and_its_status_said(
    supervisor: Supervisor, capsys: pytest.CaptureFixture[str]
) -> None:
    supervisor.start("flaky", exits_with(3), an_env(), cwd=None)
    supervisor.run_in_background()

    await eventually(lambda: supervisor.restarts("flaky") >= 1, what="a restart")

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "[stack] flaky exited (status 3); restarting in 0.5 s"
    assert lines[1:2] in ([], ["[stack] flaky exited (status 3); restarting in 1 s"])


async def test_a_restart_waits_out_its_backoff() -> None:
    clock = FakeClock()
    supervisor = Supervisor(lambda line: None, clock=clock)
    supervisor.start("sleeper", SLEEPER, an_env(), cwd=None)
    try:
        os.kill(supervisor.children["sleeper"].process.pid, signal.SIGKILL)
        await eventually(lambda: supervisor.children["sleeper"].process.poll() is not None)
        supervisor.check()  # sees the exit

        clock.advance(0.49)
        supervisor.check()
        waiting = supervisor.pid("sleeper")
        clock.advance(0.01)
        supervisor.check()

        assert waiting is None
        assert supervisor.restarts("sleeper") == 1
        assert supervisor.pid("sleeper") is not None
    finally:
        supervisor.stop()


async def test_a_child_with_a_configuration_error_is_not_restarted(
    supervisor: Supervisor, capsys: pytest.CaptureFixture[str]
) -> None:
    supervisor.start("misconfigured", exits_with(2), an_env(), cwd=None)
    supervisor.run_in_background()

    await eventually(lambda: not supervisor.running, what="supervision to halt")

    assert supervisor.restarts("misconfigured") == 0
    assert supervisor.failure == (
        "misconfigured exited (status 2): a configuration error, which no restart can fix;"
        " stopping the stack"
    )
    assert capsys.readouterr().out == f"[stack] {supervisor.failure}\n"


@pytest.fixture
def database() -> Iterator[subprocess.Popen[str]]:
    """A process standing in for a mongoeco server."""
    process = subprocess.Popen(SLEEPER, text=True)
    yield process
    process.kill()
    process.wait()


async def test_the_exit_of_a_watched_process_halts_supervision(
    supervisor: Supervisor, database: subprocess.Popen[str]
) -> None:
    supervisor.start("service", SLEEPER, an_env(), cwd=None)
    supervisor.watch("its database", database, because="its data went with it")
    supervisor.run_in_background()

    database.kill()

    await eventually(lambda: not supervisor.running, what="supervision to halt")
    assert supervisor.failure == "its database exited (signal 9); its data went with it"
    assert supervisor.children["service"].process.poll() is None  # left for the owner to stop


async def test_stopping_stops_every_child_and_restarts_nothing_more() -> None:
    clock = FakeClock()
    said: list[str] = []
    supervisor = Supervisor(said.append, clock=clock)
    supervisor.start("killed", SLEEPER, an_env(), cwd=None)
    supervisor.start("alive", SLEEPER, an_env(), cwd=None)
    supervisor.run_in_background()
    os.kill(supervisor.children["killed"].process.pid, signal.SIGKILL)
    await eventually(lambda: said, what="the exit to be seen")  # its restart is now due

    supervisor.stop()
    clock.advance(60)
    supervisor.check()

    assert not supervisor.running
    assert all(child.process.poll() is not None for child in supervisor.children.values())
    assert [supervisor.restarts(name) for name in ("killed", "alive")] == [0, 0]
    assert said == ["killed exited (signal 9); restarting in 0.5 s"]
