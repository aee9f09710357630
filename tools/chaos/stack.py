"""The stack a chaos run drives: a running one found by its state file, or one of its own.

A supervised stack writes ``.run/stack-<gateway_port>.json`` and rewrites it on every
restart: that file is how the run finds the pids to kill and the databases to inspect.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from deploy.local.hosts import DEFAULT_AMQP_URL, is_local
from deploy.local.probes import answers
from deploy.local.stack import PROCESSES, running_stack, state_path
from shared.testing.fixtures import new_namespace
from shared.testing.infra import purge_namespaces
from shared.testing.services import free_port
from stripe_emulator.config import DEFAULT_PORT as STRIPE_EMULATOR_PORT

EMULATOR = "stripe_emulator"
# Offsets that keep every port of ours clear of `make up` (8080, 18101..) and of the
# test suite's stacks (offsets 1000, 2000, 3000: 19080, 20080, 21080 and their services).
PORT_OFFSETS = range(4000, 9000, 50)


class StackStateMissing(RuntimeError):
    """No state file: the stack is not a supervised one (or has not started)."""


@dataclass(frozen=True)
class ProcessState:
    """One supervised process, as the state file describes it now."""

    name: str
    module: str
    pid: int
    port: int
    restarts: int
    mongo_url: str | None


@dataclass(frozen=True)
class StackState:
    """The state file: where the stack is, what it runs and with which settings."""

    url: str
    supervisor_pid: int
    env: dict[str, str]
    processes: dict[str, ProcessState]

    @classmethod
    def parse(cls, doc: dict[str, Any]) -> StackState:
        return cls(
            url=str(doc["url"]),
            supervisor_pid=int(doc["supervisor_pid"]),
            env={str(k): str(v) for k, v in (doc.get("env") or {}).items()},
            processes={
                name: ProcessState(
                    name=name,
                    module=str(p["module"]),
                    pid=int(p["pid"]),
                    port=int(p["port"]),
                    restarts=int(p.get("restarts", 0)),
                    mongo_url=p.get("mongo_url") or None,
                )
                for name, p in doc["processes"].items()
            },
        )

    @property
    def amqp_url(self) -> str:
        return self.env.get("AMQP_URL") or DEFAULT_AMQP_URL

    @property
    def namespace(self) -> str:
        return self.env.get("AMQP_NAMESPACE", "")

    def emulator_url(self) -> str | None:
        emulator = self.processes.get(EMULATOR)
        return f"http://127.0.0.1:{emulator.port}" if emulator else None


def read_state(path: Path) -> StackState | None:
    """The state file's contents, or None when there is none. (The supervisor replaces the
    file in one rename, so a read never meets half of it.)"""
    try:
        return StackState.parse(json.loads(path.read_text()))
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class Hold:
    """How long orders hold a ticket, and how the sweep backs expiry up."""

    expiration_s: float
    sweep_s: float
    sweep_grace_s: float

    @property
    def overdue_s(self) -> float:
        """How long past its expiry a `created` order is a violation: the sweep's grace,
        one sweep interval, and a second of slack for the sweep's own pass."""
        return self.sweep_grace_s + self.sweep_s + 1.0


class OwnRedis:
    """A Redis of the run's own, so restarting it hurts nobody else's stack."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                *("--bind", "127.0.0.1", "--port", str(self.port)),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while not answers(self.url, self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server on :{self.port} did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no save; its jobs are gone, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@dataclass
class Target:
    """What a run drives and inspects: the gateway, the state file, what it may restart."""

    url: str
    state_file: Path
    hold: Hold
    redis: OwnRedis | None = None  # None: Redis is not the run's to restart

    def state(self) -> StackState:
        found = read_state(self.state_file)
        if found is not None:
            return found
        raise StackStateMissing(
            f"no {self.state_file}: is the stack at {self.url} a supervised `make up`?"
        )

    def broker_is_local(self) -> bool:
        return is_local(self.state().amqp_url)


@dataclass(frozen=True)
class OwnStackSettings:
    """How a self-started stack runs: a short hold so expiry happens within the run."""

    hold: Hold
    queue_type: str = "quorum"
    service_log_level: str = "ERROR"


def own_env(settings: OwnStackSettings, *, redis_url: str, namespace: str) -> dict[str, str]:
    hold = settings.hold
    return {
        "AMQP_URL": os.environ.get("AMQP_URL", DEFAULT_AMQP_URL),
        "AMQP_NAMESPACE": namespace,  # queues (and the arq queue name) of its own
        "AMQP_QUEUE_TYPE": settings.queue_type,
        "AMQP_RETRY_DELAY_MS": "500",
        "REDIS_URL": redis_url,
        "MONGO_URL": "",  # a mongoeco server per service, even when MONGO_URL is set
        "ORDER_EXPIRATION_SECONDS": f"{hold.expiration_s:g}",
        "ORDER_SWEEP_SECONDS": f"{hold.sweep_s:g}",
        "ORDER_SWEEP_GRACE_SECONDS": f"{hold.sweep_grace_s:g}",
        "OUTBOX_SWEEP_SECONDS": "1",
        "LOG_LEVEL": settings.service_log_level,
        # scrypt at 2**14, not 2**17: a run signs up dozens of users at once.
        "AUTH_SCRYPT_LOG2_N": "14",
    }


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_offset() -> int:
    """An offset at which every process of a stack finds its port free."""
    bases = [p.port for p in PROCESSES] + [STRIPE_EMULATOR_PORT]
    candidates = list(PORT_OFFSETS)
    random.shuffle(candidates)
    for offset in candidates:
        if all(_port_is_free(base + offset) for base in bases):
            return offset
    raise RuntimeError("no free port offset for a stack of our own")


@contextlib.contextmanager
def target_at(url: str, hold: Hold) -> Iterator[Target]:
    """A stack someone else runs (``make up``), found through its state file."""
    port = urlsplit(url).port or 80
    yield Target(url=url.rstrip("/"), state_file=state_path(port), hold=hold)


@contextlib.contextmanager
def own_target(settings: OwnStackSettings) -> Iterator[Target]:
    """A whole stack of the run's own (ports, namespace, Redis, databases), stopped after."""
    redis = OwnRedis(free_port())
    redis.start()
    namespace = new_namespace("chaos")
    env = own_env(settings, redis_url=redis.url, namespace=namespace)
    gateway_port = free_port()
    try:
        with running_stack(gateway_port, env=env, port_offset=free_port_offset()) as stack:
            yield Target(
                url=stack.url,
                state_file=stack.state_path,
                hold=settings.hold,
                redis=redis,
            )
    finally:
        redis.stop()
        purge_namespaces(env["AMQP_URL"], {namespace})
