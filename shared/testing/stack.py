"""The whole stack on one machine without Docker (``make up``).

Uses RabbitMQ and Redis at ``AMQP_URL`` / ``REDIS_URL`` or starts local ones (installing
them from Debian's packages when missing and running as root), MongoDB at ``MONGO_URL`` or
a mongoeco wire server, generates dev JWT keys when none are given, starts every service
that exists, and nginx in front on ``http://127.0.0.1:${GATEWAY_PORT:-8080}``.
Foreground; Ctrl-C stops everything it started.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from shared.testing.gateway import UPSTREAM_NAMES, Gateway, find_nginx
from shared.testing.infra import DEFAULT_AMQP_URL, DEFAULT_REDIS_URL, REPO_ROOT, MongoServer
from shared.testing.keys import generate_keypair
from shared.testing.services import responds
from shared.testing.stripe_emulator import DEFAULT_PORT as STRIPE_EMULATOR_PORT

RUN_DIR = REPO_ROOT / ".run"
MONGO_SERVICES = {"auth", "tickets", "orders", "payments"}


@dataclass(frozen=True)
class Process:
    name: str  # python -m <package>.<name>
    port: int
    upstream: str | None = None  # the gateway upstream it serves, if any
    probe: str = "/readyz"
    package: str = "services"

    @property
    def module(self) -> str:
        return f"{self.package}.{self.name}"

    def exists(self) -> bool:
        """Services land one issue at a time; start only those that are here."""
        try:
            return importlib.util.find_spec(self.module) is not None
        except ModuleNotFoundError:
            return False


PROCESSES = (
    Process("auth", 18101, "AUTH"),
    Process("tickets", 18102, "TICKETS"),
    Process("orders", 18103, "ORDERS"),
    Process("payments", 18104, "PAYMENTS"),
    Process("client", 18105, "CLIENT"),
    Process("expiration", 18106),
    Process("expiration.worker", 18107),
)


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def is_local(url: str) -> bool:
    return urlsplit(url).hostname in {"127.0.0.1", "localhost", "::1"}


def apt_install(*packages: str) -> None:
    if os.geteuid() != 0:
        raise SystemExit(
            f"[stack] missing {' '.join(packages)}: as root, apt-get install {' '.join(packages)}"
        )
    say(f"installing {' '.join(packages)} from Debian's packages")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        check=True,
        env=env,
    )


def wait_until(predicate: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise SystemExit(f"[stack] {what} did not come up within {timeout_s:.0f}s")


def ensure_rabbitmq(url: str) -> None:
    if answers(url, 5672):
        return
    if not is_local(url):
        raise SystemExit(f"[stack] RabbitMQ at {url} does not answer")
    if not shutil.which("rabbitmq-server"):
        apt_install("rabbitmq-server")
    say("starting RabbitMQ (rabbitmq-server -detached)")
    subprocess.run(
        ["rabbitmq-server", "-detached"],
        check=False,
        env={**os.environ, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1"},
    )
    subprocess.run(["rabbitmqctl", "-q", "await_startup"], check=False, timeout=120)
    wait_until(lambda: answers(url, 5672), "RabbitMQ")


def ensure_redis(url: str) -> None:
    if answers(url, 6379):
        return
    if not is_local(url):
        raise SystemExit(f"[stack] Redis at {url} does not answer")
    if not shutil.which("redis-server"):
        apt_install("redis-server")
    port = str(urlsplit(url).port or 6379)
    say(f"starting Redis on port {port}")
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            port,
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=True,
    )
    wait_until(lambda: answers(url, 6379), "Redis")


def ensure_nginx() -> None:
    if find_nginx() is None:
        apt_install("nginx-light")


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


@dataclass
class Stack:
    """Everything ``make up`` runs. ``port_offset`` moves every port (two stacks side by
    side, e.g. in tests); ``env`` overrides the environment the processes get."""

    gateway_port: int
    env: dict[str, str] = field(default_factory=dict)
    port_offset: int = 0
    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    mongo_servers: list[MongoServer] = field(default_factory=list)
    gateway: Gateway | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def processes(self) -> list[Process]:
        """The processes to run, at their ports for this stack."""
        running = [replace(p, port=p.port + self.port_offset) for p in PROCESSES if p.exists()]
        if not self.env.get("STRIPE_SECRET_KEY", os.environ.get("STRIPE_SECRET_KEY")):
            running.insert(0, self.stripe_emulator)
        return running

    @property
    def stripe_emulator(self) -> Process:
        """Offline Stripe: run when no STRIPE_SECRET_KEY is given (payments then uses it)."""
        return Process(
            "stripe_emulator",
            STRIPE_EMULATOR_PORT + self.port_offset,
            probe="/healthz",
            package="shared.testing",
        )

    def environment(self) -> dict[str, str]:
        env = {**os.environ, **self.env}
        env.setdefault("AMQP_URL", DEFAULT_AMQP_URL)
        env.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
        env.setdefault("COOKIE_SECURE", "false")
        env.setdefault("API_BASE_URL", self.url)
        if not env.get("STRIPE_SECRET_KEY"):
            env.setdefault("STRIPE_API_BASE", f"http://127.0.0.1:{self.stripe_emulator.port}")
        if not env.get("JWT_PRIVATE_KEY") or not env.get("JWT_PUBLIC_KEY"):
            env["JWT_PRIVATE_KEY"], env["JWT_PUBLIC_KEY"] = dev_jwt_keys()
        return env

    def extra_env(self, process: Process, running: list[Process]) -> dict[str, str]:
        """The emulator posts Stripe's webhooks to payments, as Stripe would."""
        payments = next((p for p in running if p.name == "payments"), None)
        if process.name != "stripe_emulator" or payments is None:
            return {}
        return {"STRIPE_WEBHOOK_URL": f"http://127.0.0.1:{payments.port}/api/payments/webhook"}

    def mongo_for(self, process: Process, env: dict[str, str]) -> dict[str, str]:
        """Real MongoDB when given; else a mongoeco server of the service's own.

        mongoeco's transactions conflict with any overlapping write on the same server,
        even in another database, so services must not share one.
        """
        if env.get("MONGO_URL") or process.name not in MONGO_SERVICES:
            return {}
        server = MongoServer.start()
        self.mongo_servers.append(server)
        say(f"{process.name}: MongoDB wire server (mongoeco, in memory) at {server.url}")
        return {"MONGO_URL": server.url, "MONGO_SERIALIZE_WRITES": "true"}

    def start(self) -> None:
        ensure_rabbitmq(os.environ.get("AMQP_URL", DEFAULT_AMQP_URL))
        ensure_redis(os.environ.get("REDIS_URL", DEFAULT_REDIS_URL))
        ensure_nginx()
        env = self.environment()
        # Port 9 (discard): an upstream whose service is not here answers 502.
        upstreams = dict.fromkeys(UPSTREAM_NAMES, "127.0.0.1:9")
        running = self.processes()
        for process in running:
            child_env = {
                **env,
                **self.mongo_for(process, env),
                **self.extra_env(process, running),
                "PORT": str(process.port),
                "HOST": "127.0.0.1",
            }
            say(f"starting {process.module} on :{process.port}")
            self.children.append(
                (
                    process.name,
                    subprocess.Popen(
                        [sys.executable, "-m", process.module], env=child_env, cwd=REPO_ROOT
                    ),
                )
            )
            if process.upstream:
                upstreams[process.upstream] = f"127.0.0.1:{process.port}"
        for process in running:
            port, probe = process.port, process.probe
            wait_until(
                lambda: responds(port, probe) or self._died(),  # noqa: B023
                f"{process.module} {probe}",
            )
            if self._died():
                raise SystemExit("[stack] a service exited during startup; see its log above")
        self.gateway = Gateway(
            RUN_DIR / f"nginx-{self.gateway_port}", f"127.0.0.1:{self.gateway_port}", upstreams
        )
        self.gateway.start(self.url)

    def _died(self) -> bool:
        return any(child.poll() is not None for _, child in self.children)

    def stop(self) -> None:
        if self.gateway:
            self.gateway.stop()
        for _, child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for name, child in self.children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in time; killing it")
                child.kill()
        for server in self.mongo_servers:
            server.stop()


@contextlib.contextmanager
def running_stack(
    gateway_port: int, *, env: dict[str, str] | None = None, port_offset: int = 0
) -> Iterator[Stack]:
    """The whole stack for the duration of the block; see ``Stack``."""
    stack = Stack(gateway_port=gateway_port, env=env or {}, port_offset=port_offset)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def main() -> None:
    port = int(os.environ.get("GATEWAY_PORT", "8080"))
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    try:
        with running_stack(port) as stack:
            say(f"ready: {stack.url}  (Ctrl-C stops everything)")
            while not stop and not stack._died():
                time.sleep(0.5)
            if stack._died():
                say("a service exited; stopping the stack")
    except KeyboardInterrupt:
        pass
    say("stopped")


if __name__ == "__main__":
    main()
