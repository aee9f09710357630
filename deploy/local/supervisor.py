"""Keeping the local stack's processes running: restart what exits, with backoff.

What compose's ``restart: unless-stopped`` and the kubelet do, for ``make up`` and the
end-to-end tests' stacks. A process that exits is started again with the same argv and
environment after 0.5 s, doubling for each restart in a row up to 10 s; a process that has
been up for 60 s starts again from 0.5 s. Two exits are final and halt supervision instead:
status 2 (our services' configuration error, which no restart can fix) and the exit of a
process the others cannot do without (``watch``).
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

Clock = Callable[[], float]
Say = Callable[[str], None]

CONFIG_ERROR_STATUS = 2  # shared.runner.load_or_exit


@dataclass
class Backoff:
    """How long to wait before restarting a process that has just exited."""

    clock: Clock = time.monotonic
    first_s: float = 0.5
    longest_s: float = 10.0
    reset_after_s: float = 60.0
    _in_a_row: int = field(default=0, init=False)
    _started_at: float = field(default=0.0, init=False)

    def started(self) -> None:
        self._started_at = self.clock()

    def delay_s(self) -> float:
        """The wait before the next start; call once per exit."""
        # A process that stayed up this long was healthy: its next crash is a new story.
        if self.clock() - self._started_at >= self.reset_after_s:
            self._in_a_row = 0
        delay_s = min(self.first_s * 2.0**self._in_a_row, self.longest_s)
        self._in_a_row += 1
        return delay_s


def how_it_ended(returncode: int) -> str:
    """``signal 9`` for a process killed by a signal, ``status 3`` for an exit code."""
    return f"signal {-returncode}" if returncode < 0 else f"status {returncode}"


@dataclass
class Supervised:
    """One restartable child process: the same argv and environment every time."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path | None
    backoff: Backoff
    process: subprocess.Popen[bytes] = field(init=False)
    restarts: int = 0
    restart_at: float | None = None  # set while it waits out its backoff

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd)
        self.backoff.started()

    def restart(self) -> None:
        self.start()
        self.restarts += 1
        # Last, as other threads read pid(): the new pid shows once the count is up too.
        self.restart_at = None

    @property
    def pid(self) -> int | None:
        """The running process's id; None while it waits to be restarted."""
        return None if self.restart_at is not None else self.process.pid


@dataclass
class Watched:
    """A process the supervisor does not restart: its exit halts supervision."""

    name: str
    process: subprocess.Popen[str] | subprocess.Popen[bytes]
    because: str  # what its loss means, said with its exit


@dataclass
class Supervisor:
    """Starts and restarts child processes; ``check`` is one pass, ``run_in_background``
    repeats it in a thread. ``on_restart`` is called after every restart."""

    say: Say
    clock: Clock = time.monotonic
    on_restart: Callable[[], None] = lambda: None
    children: dict[str, Supervised] = field(default_factory=dict)
    watched: list[Watched] = field(default_factory=list)
    failure: str | None = None  # why supervision halted by itself
    # Set by halt() or a final exit; from then on nothing is ever restarted.
    halted: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = field(default=None, init=False)

    def start(self, name: str, argv: list[str], env: dict[str, str], cwd: Path | None) -> None:
        child = Supervised(name, argv, env, cwd, Backoff(self.clock))
        self.children[name] = child
        child.start()

    def watch(
        self, name: str, process: subprocess.Popen[str] | subprocess.Popen[bytes], because: str
    ) -> None:
        """Halt supervision, saying ``because``, should ``process`` exit."""
        self.watched.append(Watched(name, process, because))

    def pid(self, name: str) -> int | None:
        child = self.children.get(name)
        return child.pid if child else None

    def restarts(self, name: str) -> int:
        return self.children[name].restarts

    def check(self) -> None:
        """Notice exits and make due restarts; a no-op once halted."""
        for watched in self.watched:
            if not self.halted.is_set() and (code := watched.process.poll()) is not None:
                self._fail(f"{watched.name} exited ({how_it_ended(code)}); {watched.because}")
        for child in self.children.values():
            if not self.halted.is_set():
                self._check_child(child)

    def _check_child(self, child: Supervised) -> None:
        if child.restart_at is not None:
            if self.clock() >= child.restart_at:
                child.restart()
                self.on_restart()
            return
        code = child.process.poll()
        if code is None:
            return
        ended = f"{child.name} exited ({how_it_ended(code)})"
        if code == CONFIG_ERROR_STATUS:
            self._fail(
                f"{ended}: a configuration error, which no restart can fix; stopping the stack"
            )
            return
        delay_s = child.backoff.delay_s()
        self.say(f"{ended}; restarting in {delay_s:g} s")
        child.restart_at = self.clock() + delay_s

    def _fail(self, message: str) -> None:
        self.failure = message
        self.halted.set()
        self.say(message)

    def run_in_background(self, interval_s: float = 0.1) -> None:
        def loop() -> None:
            # wait() doubles as the sleep, so halt() ends the loop at once.
            while not self.halted.wait(interval_s):
                self.check()

        self._thread = threading.Thread(target=loop, name="stack-supervisor", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def halt(self) -> None:
        """Restart nothing from now on. Only sets an event, so a signal handler may call it."""
        self.halted.set()

    def stop(self, timeout_s: float = 15.0) -> None:
        """Halt, then stop every child: SIGTERM, and SIGKILL for one that outstays ``timeout_s``."""
        self.halt()
        # The pass under way may still restart a child; joining lets it finish first, so
        # the SIGTERMs below reach every process that will ever have been started.
        if self._thread is not None:
            self._thread.join()
        for child in self.children.values():
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for child in self.children.values():
            try:
                child.process.wait(max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                self.say(f"{child.name} did not stop in time; killing it")
                child.process.kill()
                child.process.wait()
