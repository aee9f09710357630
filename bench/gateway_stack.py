"""The whole local stack behind the real nginx gateway, for the benchmarks that go through it.

``make up``'s processes (``deploy.local.stack``) on free ports of the bench's own, an AMQP
namespace of its own (removed afterwards) and a fresh JWT key pair, so a benchmark signs its
buyers in with cookies it makes (``shared.testing.identity``) instead of through auth: the
figure is the path under test, not scrypt. MongoDB is ``MONGO_URL`` when set, else a mongoeco
stand-in per service, as ``make up`` runs it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from deploy.local.hosts import DEFAULT_AMQP_URL
from deploy.local.keys import generate_keypair
from deploy.local.stack import Stack, running_stack
from shared.mongo import database_from_url
from shared.testing.fixtures import new_namespace
from shared.testing.identity import signin_cookie
from shared.testing.infra import given_mongo_url, purge_namespaces
from shared.testing.services import free_port
from tools.chaos.stack import free_port_offset


@dataclass(frozen=True)
class BenchStack:
    stack: Stack
    private_key: str

    @property
    def url(self) -> str:
        return self.stack.url

    def cookies(self) -> dict[str, str]:
        """A new user's session, signed with the stack's key."""
        return signin_cookie(self.private_key)

    def mongo_url(self, service: str) -> str:
        return self.stack.supervisor.children[service].env["MONGO_URL"]

    def database(self, service: str) -> str:
        """The service's database name (its own name unless its ``MONGO_URL`` names one)."""
        return database_from_url(self.mongo_url(service)) or service

    def standin_pid(self, service: str) -> int | None:
        """The pid of the service's mongoeco stand-in; None on a real MongoDB."""
        url = self.mongo_url(service)
        return next((s.process.pid for s in self.stack.mongo_servers if s.url == url), None)


@contextlib.contextmanager
def bench_stack(**env: str) -> Iterator[BenchStack]:
    private_key, public_key = generate_keypair()
    amqp_url = os.environ.get("AMQP_URL", DEFAULT_AMQP_URL)
    namespace = new_namespace("bench")
    stack_env = {
        "AMQP_URL": amqp_url,
        "AMQP_NAMESPACE": namespace,
        # The services' own level would print a line per order into the figures' output.
        "LOG_LEVEL": "WARNING",
        "JWT_PRIVATE_KEY": private_key,
        "JWT_PUBLIC_KEY": public_key,
        "MONGO_URL": given_mongo_url() or "",
        **env,
    }
    try:
        with running_stack(free_port(), env=stack_env, port_offset=free_port_offset()) as stack:
            yield BenchStack(stack, private_key)
    finally:
        purge_namespaces(amqp_url, {namespace})
