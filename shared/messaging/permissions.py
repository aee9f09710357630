"""The RabbitMQ permissions of each service's own user: the one definition that compose's
broker definitions and the Helm chart's README are checked against (tests).

RabbitMQ grants a user three regular expressions per vhost, matched against resource names:
``configure`` (declare, delete), ``write`` (publish to an exchange, bind a queue, be a queue's
dead-letter exchange) and ``read`` (consume, bind from an exchange, declare a queue with a
dead-letter exchange); and per topic exchange, the routing keys it may ``write`` (publish).
A service touches only the shared exchange, the event log and its own topology
(topology.py): its three queues and its requeue exchange, which its retries, parked copies
and dead-letters go through. It publishes only its own events, and the replay fence
(``eventlog.fence``), which only the log receives and every reader passes over.

The event log: every service declares it and binds it to the exchange (configure and write
on ``ticketing.log``), since whichever starts first must create it before publishing, and
reads it for a replay (read). Reading it shows no service more than it could already see
(any service may bind its queue to any event key), but configure also lets a service delete
it; only declaring the log as an administrator would take that away.

No service may write to the default exchange (``amq.default``): RabbitMQ checks no routing
key there, so that right would let a service put a message, say a forged
``payment.created``, on any other service's queue by name.

One hole these cannot close: RabbitMQ checks topic permissions only on the exchange a
message is published to, and regular expressions cannot tell exchanges from queues. A
service may read and write its requeue exchange (or declare an exchange named like one of
its queues) and write to the shared exchange, so it may bind the shared exchange to its own
(``exchange.bind``) and route any event through it. Closing that needs the topology
declared and bound by an administrator, leaving each service only ``read`` on its queues
and ``write`` on the two exchanges (test_rabbitmq_permissions keeps a strict xfail).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.events import (
    ExpirationComplete,
    OrderCancelled,
    OrderCreated,
    OrderSnapshot,
    PaymentCreated,
    SessionRevoked,
    SnapshotCompleted,
    SnapshotRequested,
    TicketCreated,
    TicketSnapshot,
    TicketUpdated,
)
from shared.messaging.topology import FENCE_KEY, Topology

# Who publishes which events (each service's outbox; expiration's worker for expiration).
# An owner answers a rebuild with its snapshots and snapshot.completed; a service with a
# replica asks for them with snapshot.requested (docs/rebuild.md).
PUBLISHES: dict[str, tuple[str, ...]] = {
    "auth": (SessionRevoked.routing_key,),
    "tickets": (
        TicketCreated.routing_key,
        TicketUpdated.routing_key,
        TicketSnapshot.routing_key,
        SnapshotCompleted.routing_key,
    ),
    "orders": (
        OrderCreated.routing_key,
        OrderCancelled.routing_key,
        OrderSnapshot.routing_key,
        SnapshotCompleted.routing_key,
        SnapshotRequested.routing_key,
    ),
    "payments": (PaymentCreated.routing_key, SnapshotRequested.routing_key),
    "expiration": (ExpirationComplete.routing_key,),
}
SERVICES = tuple(PUBLISHES)


@dataclass(frozen=True)
class Permissions:
    """One service user's regular expressions (RabbitMQ's set_permissions and
    set_topic_permissions on the exchange)."""

    configure: str
    write: str
    read: str
    topic_write: str
    topic_read: str = ".*"  # binding and unbinding any event key on its own queue


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str


def _exactly(names: list[str]) -> str:
    return "^(" + "|".join(re.escape(name) for name in names) + ")$"


def service_permissions(service: str, topology: Topology | None = None) -> Permissions:
    """What ``service`` declares, publishes to and consumes from, and nothing else."""
    topology = topology or Topology()
    names = topology.queue_names(service)
    # Write on a queue is binding it; read on an exchange is binding from it.
    own = [
        topology.exchange_name,
        topology.log_name,
        names.main,
        names.retry,
        names.parked,
        names.requeue,
    ]
    return Permissions(
        configure=_exactly(own),
        write=_exactly(own),
        read=_exactly(own),
        topic_write=_exactly([*PUBLISHES[service], FENCE_KEY]),
    )


def definitions(
    credentials: Mapping[str, Credentials],
    *,
    admin: Credentials,
    vhost: str = "/",
    topology: Topology | None = None,
) -> dict[str, Any]:
    """A RabbitMQ definitions document (``load_definitions``, ``rabbitmqctl
    import_definitions``): the vhost, an administrator, and one user per service in
    ``credentials`` with exactly its permissions."""
    topology = topology or Topology()
    users = [{"name": admin.user, "password": admin.password, "tags": ["administrator"]}]
    permissions = [
        {"user": admin.user, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}
    ]
    topic_permissions = []
    for service, login in credentials.items():
        granted = service_permissions(service, topology)
        users.append({"name": login.user, "password": login.password, "tags": []})
        permissions.append(
            {
                "user": login.user,
                "vhost": vhost,
                "configure": granted.configure,
                "write": granted.write,
                "read": granted.read,
            }
        )
        topic_permissions.append(
            {
                "user": login.user,
                "vhost": vhost,
                "exchange": topology.exchange_name,
                "write": granted.topic_write,
                "read": granted.topic_read,
            }
        )
    return {
        "vhosts": [{"name": vhost}],
        "users": users,
        "permissions": permissions,
        "topic_permissions": topic_permissions,
    }


def rabbitmqctl_commands(vhost: str = "/", topology: Topology | None = None) -> list[str]:
    """The commands that set the service users up on an existing broker (the chart's README),
    each user named after its service; passwords are the operator's."""
    topology = topology or Topology()
    commands = []
    for service in SERVICES:
        granted = service_permissions(service, topology)
        commands += [
            f'rabbitmqctl add_user {service} "$RABBITMQ_{service.upper()}_PASSWORD"',
            f"rabbitmqctl set_permissions -p {vhost} {service} "
            f"'{granted.configure}' '{granted.write}' '{granted.read}'",
            f"rabbitmqctl set_topic_permissions -p {vhost} {service} {topology.exchange_name} "
            f"'{granted.topic_write}' '{granted.topic_read}'",
        ]
    return commands
