"""The processes of the local stack (``make up``): the orchestration half, no provisioning.

On a machine ``deploy.local.hosts`` has provisioned (RabbitMQ and Redis at ``AMQP_URL`` /
``REDIS_URL``, nginx installed): uses MongoDB at ``MONGO_URL`` or a mongoeco wire server per
service, generates dev JWT keys when none are given, starts every service, and nginx in front
on ``http://127.0.0.1:${GATEWAY_PORT:-8080}``. A process that exits is restarted
(``deploy.local.supervisor``). With a ``data_dir`` (``make up``: ``.run/data``) the mongoeco
stores are kept there across restarts, and the broker's and Redis's objects are those of the
stores' generation (``deploy.local.generations``); without one (the tests' stacks) the
stores are in memory.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from deploy.local.console import say
from deploy.local.gateway import (
    DEFAULT_AUTH_BURST,
    DEFAULT_AUTH_RATE_PER_S,
    DEFAULT_TRUSTED_PROXIES,
    UPSTREAM_NAMES,
    Gateway,
)
from deploy.local.generations import (
    Generation,
    StackRunning,
    holding,
    open_generation,
    store_path,
    sweep,
)
from deploy.local.hosts import DEFAULT_AMQP_URL, DEFAULT_REDIS_URL, provision
from deploy.local.keys import generate_keypair
from deploy.local.mongodb import MongoServer
from deploy.local.paths import REPO_ROOT, RUN_DIR
from deploy.local.probes import answers, responds, wait_until
from deploy.local.supervisor import Supervisor
from shared.config import ConfigError, Env
from stripe_emulator.config import DEFAULT_PORT as STRIPE_EMULATOR_PORT

MONGO_SERVICES = {"auth", "tickets", "orders", "payments"}
# The environment the state file repeats, for tools that reach the stack's broker and Redis.
STATE_ENV_KEYS = ("AMQP_URL", "AMQP_NAMESPACE", "REDIS_URL", "EXPIRATION_QUEUE")


@dataclass(frozen=True)
class Process:
    name: str  # python -m <package>.<name>
    port: int
    upstream: str | None = None  # the gateway upstream it serves, if any
    probe: str = "/readyz"
    package: str = "services"  # empty: ``name`` is a top-level package

    @property
    def module(self) -> str:
        return f"{self.package}.{self.name}" if self.package else self.name


PROCESSES = (
    Process("auth", 18101, "AUTH"),
    Process("tickets", 18102, "TICKETS"),
    Process("orders", 18103, "ORDERS"),
    Process("payments", 18104, "PAYMENTS"),
    Process("client", 18105, "CLIENT"),
    Process("expiration", 18106),
    Process("expiration.worker", 18107),
)


def dev_jwt_keys() -> tuple[str, str]:
    """The dev key pair in .run/jwt, made once so sessions survive a restart."""
    folder = RUN_DIR / "jwt"
    private_path, public_path = folder / "private.pem", folder / "public.pem"
    if not private_path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        private, public = generate_keypair()
        private_path.write_text(private)
        private_path.chmod(0o600)
        public_path.write_text(public)
    return private_path.read_text(), public_path.read_text()


def state_path(gateway_port: int) -> Path:
    """Where the stack behind ``gateway_port`` describes itself (README: the state file)."""
    return RUN_DIR / f"stack-{gateway_port}.json"


@dataclass
class Stack:
    """Everything ``make up`` runs. ``port_offset`` moves every port (two stacks side by
    side, e.g. in tests); ``env`` overrides the environment the processes get.

    Every process is supervised (``deploy.local.supervisor``): one that exits is
    restarted as it was, and ``.run/stack-<gateway_port>.json`` says where each one is.
    """

    gateway_port: int
    env: dict[str, str] = field(default_factory=dict)
    port_offset: int = 0
    supervisor: Supervisor = field(init=False)
    mongo_servers: list[MongoServer] = field(default_factory=list)
    gateway: Gateway | None = None
    running: list[Process] = field(default_factory=list)
    child_env: dict[str, str] = field(default_factory=dict)  # what every process gets
    wrote_state: bool = False
    data_dir: Path | None = None  # keep the mongoeco stores there (else in memory)
    generation: Generation | None = None  # the kept stores' (with a data_dir), once started
    held: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(say, on_restart=self.write_state)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def state_path(self) -> Path:
        return state_path(self.gateway_port)

    def pid(self, name: str) -> int | None:
        """The process's id now; None while it waits to be restarted (or is not here)."""
        return self.supervisor.pid(name)

    def restarts(self, name: str) -> int:
        return self.supervisor.restarts(name)

    def processes(self) -> list[Process]:
        """The processes to run, at their ports for this stack (after ``environment()``)."""
        running = [replace(p, port=p.port + self.port_offset) for p in PROCESSES]
        if self.child_env.get("STRIPE_MODE") == "emulator":
            running.insert(0, self.stripe_emulator)
        return running

    @property
    def stripe_emulator(self) -> Process:
        """Offline Stripe: run in ``STRIPE_MODE=emulator`` (payments then uses it)."""
        return Process(
            "stripe_emulator",
            STRIPE_EMULATOR_PORT + self.port_offset,
            probe="/healthz",
            package="",
        )

    def environment(self) -> dict[str, str]:
        env = {**os.environ, **self.env}
        env.setdefault("AMQP_URL", DEFAULT_AMQP_URL)
        env.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
        env.setdefault("COOKIE_SECURE", "false")
        env.setdefault("API_BASE_URL", self.url)
        # The stack's explicit opt-in to the offline Stripe emulator (payments would refuse to
        # start without a key otherwise). STRIPE_MODE=stripe with a STRIPE_SECRET_KEY runs the
        # stack against Stripe's test mode instead.
        if not env.get("STRIPE_MODE"):
            env["STRIPE_MODE"] = "emulator"
        if env["STRIPE_MODE"] == "emulator":
            env.setdefault("STRIPE_API_BASE", f"http://127.0.0.1:{self.stripe_emulator.port}")
        if not env.get("JWT_PRIVATE_KEY") or not env.get("JWT_PUBLIC_KEY"):
            env["JWT_PRIVATE_KEY"], env["JWT_PUBLIC_KEY"] = dev_jwt_keys()
        return env

    def extra_env(self, process: Process) -> dict[str, str]:
        """The emulator posts Stripe's webhooks to payments, as Stripe would."""
        payments = next((p for p in self.running if p.name == "payments"), None)
        if process.name != "stripe_emulator" or payments is None:
            return {}
        return {"STRIPE_WEBHOOK_URL": f"http://127.0.0.1:{payments.port}/api/payments/webhook"}

    def mongo_for(self, process: Process) -> dict[str, str]:
        """Real MongoDB when given; else a mongoeco server of the service's own.

        mongoeco's transactions conflict with any overlapping write on the same server,
        even in another database, so services must not share one.
        """
        if self.child_env.get("MONGO_URL") or process.name not in MONGO_SERVICES:
            return {}
        data = (
            store_path(self.data_dir, process.name) if self.data_dir and self.generation else None
        )
        server = MongoServer.start(data=data)
        self.mongo_servers.append(server)
        kind = f"kept in {data}" if data else "in memory"
        say(f"{process.name}: MongoDB wire server (mongoeco, {kind}) at {server.url}")
        # Not restarted: in memory, an empty database would leave the service out of step
        # with the others (their replicas, its unrelayed outbox), which looks like a bug but
        # isn't; kept, a server that died has a reason worth stopping for.
        self.supervisor.watch(
            f"MongoDB for {process.name} (mongoeco, {kind}, at {server.url})",
            server.process,
            because=f"{process.name} lost its store with it: stopping the stack",
        )
        return {"MONGO_URL": server.url, "MONGO_SERIALIZE_WRITES": "true"}

    def launch(self, process: Process) -> None:
        env = {
            **self.child_env,
            **self.mongo_for(process),
            **self.extra_env(process),
            "PORT": str(process.port),
            "HOST": "127.0.0.1",
        }
        say(f"starting {process.module} on :{process.port}")
        argv = [sys.executable, "-m", process.module]
        self.supervisor.start(process.name, argv, env, cwd=REPO_ROOT)

    def start(self) -> None:
        """Start every process and the gateway; the machine is provisioned already."""
        self.child_env = self.environment()
        # Port 9 (discard): an upstream whose service is not here answers 502.
        upstreams = dict.fromkeys(UPSTREAM_NAMES, "127.0.0.1:9")
        self.running = self.processes()
        brake = self._auth_brake()  # read first: a bad setting stops us before anything starts
        self._refuse_taken_ports()
        self._open_data()
        for process in self.running:
            self.launch(process)
            if process.upstream:
                upstreams[process.upstream] = f"127.0.0.1:{process.port}"
        self.write_state()
        for process in self.running:
            wait_until(partial(self._ready, process), f"{process.module} {process.probe}")
        self.gateway = Gateway(
            RUN_DIR / f"nginx-{self.gateway_port}",
            f"127.0.0.1:{self.gateway_port}",
            upstreams,
            *brake,
            # Whose X-Forwarded-For counts: by default the client process (127.0.0.1).
            trusted_proxies=self.child_env.get("GATEWAY_TRUSTED_PROXIES", DEFAULT_TRUSTED_PROXIES),
        )
        self.gateway.start(self.url)
        self.supervisor.run_in_background()

    def _open_data(self) -> None:
        """With a data folder and mongoeco: hold the folder, take (or make) the stores'
        generation, and sweep the broker and Redis of every other generation."""
        if self.data_dir is None or self.child_env.get("MONGO_URL"):
            return
        try:
            self.held.enter_context(holding(self.data_dir))
        except StackRunning as exc:
            raise SystemExit(
                f"[stack] {self.data_dir} is in use by another stack ({exc})"
            ) from None
        self.generation = open_generation(self.data_dir, MONGO_SERVICES)
        state = "new, empty stores" if self.generation.new else "the kept stores"
        say(f"data in {self.data_dir}: {state} (generation {self.generation.id})")
        self.child_env["AMQP_NAMESPACE"] = self.generation.namespace
        self.child_env["EXPIRATION_QUEUE"] = self.generation.expiration_queue
        sweep(
            self.child_env["AMQP_URL"],
            self.child_env["REDIS_URL"],
            self.generation.family,
            keep=self.generation.id,
        )

    def _auth_brake(self) -> tuple[int, int]:
        """The gateway's limit on sign-in and sign-up: (per second, burst)."""
        env = Env(self.child_env)
        try:
            return (
                env.int("GATEWAY_AUTH_RATE", DEFAULT_AUTH_RATE_PER_S, minimum=1),
                env.int("GATEWAY_AUTH_BURST", DEFAULT_AUTH_BURST, minimum=0),
            )
        except ConfigError as exc:
            raise SystemExit(f"[stack] {exc}") from None

    def _refuse_taken_ports(self) -> None:
        # Another stack on our ports (a second test session, say) would answer our readiness
        # probes, and each restart would fight it for its port: refuse to start instead.
        ports = [self.gateway_port, *(process.port for process in self.running)]
        taken = [port for port in ports if answers(f"http://127.0.0.1:{port}", port)]
        if taken:
            raise SystemExit(f"[stack] ports in use (another stack running?): {taken}")

    def _ready(self, process: Process) -> bool:
        # The background supervisor starts once we are up; until then, supervise from here.
        self.supervisor.check()
        if self.supervisor.failure:
            raise SystemExit("[stack] could not start; see the line above")
        return responds(process.port, process.probe)

    def state(self) -> dict[str, Any]:
        """Where everything is, for tools outside (tools/chaos); the README gives the contract."""
        return {
            "url": self.url,
            "supervisor_pid": os.getpid(),
            "env": {key: self.child_env.get(key, "") for key in STATE_ENV_KEYS},
            "processes": {p.name: self._process_state(p) for p in self.running},
        }

    def _process_state(self, process: Process) -> dict[str, Any]:
        child = self.supervisor.children[process.name]
        mongo_url = child.env.get("MONGO_URL") if process.name in MONGO_SERVICES else None
        return {
            "module": process.module,
            "pid": child.process.pid,
            "port": process.port,
            "restarts": child.restarts,
            "mongo_url": mongo_url or None,
        }

    def write_state(self) -> None:
        """Replace the state file at once, so a reader never sees half of it."""
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        temporary = self.state_path.with_name(f"{self.state_path.name}.tmp")
        temporary.write_text(json.dumps(self.state(), indent=2) + "\n")
        os.replace(temporary, self.state_path)
        self.wrote_state = True

    def stop(self) -> None:
        # Halt first: from here on, a process that exits is going down with us.
        self.supervisor.halt()
        if self.gateway:
            self.gateway.stop()
        self.supervisor.stop()
        for server in self.mongo_servers:
            server.stop()
        self.held.close()  # only once the stores' servers are down
        if self.wrote_state:  # else the file, if any, is another stack's
            self.state_path.unlink(missing_ok=True)


@contextlib.contextmanager
def running_stack(
    gateway_port: int,
    *,
    env: dict[str, str] | None = None,
    port_offset: int = 0,
    data_dir: Path | None = None,
) -> Iterator[Stack]:
    """The machine provisioned and the whole stack running, for the block; see ``Stack``.

    Should supervision halt by itself (a configuration error, a lost mongoeco server), the
    processes left are stopped when the block ends.
    """
    stack = Stack(
        gateway_port=gateway_port, env=env or {}, port_offset=port_offset, data_dir=data_dir
    )
    try:
        provision()
        stack.start()
        yield stack
    finally:
        stack.stop()
