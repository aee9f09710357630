"""Messaging over RabbitMQ: topology, publisher, consumer runner, outbox, inbox, unit of work.

A service opens it all with ``open_messaging`` (in an aiohttp ``cleanup_ctx``); use
cases write through ``messaging.uow``; listeners are ``Subscription``s.
"""

from shared.messaging.consumer import (
    Consumer,
    Delivery,
    RetryLater,
    Subscription,
    is_transient,
)
from shared.messaging.inbox import Inbox
from shared.messaging.outbox import Outbox, OutboxEntry, OutboxRelay
from shared.messaging.publisher import Publisher, PublishFailed
from shared.messaging.runtime import Messaging, connect, open_messaging
from shared.messaging.settings import AmqpSettings
from shared.messaging.topology import QueueNames, ServiceQueues, Topology
from shared.messaging.uow import Transaction, UnitOfWork

__all__ = [
    "AmqpSettings",
    "Consumer",
    "Delivery",
    "Inbox",
    "Messaging",
    "Outbox",
    "OutboxEntry",
    "OutboxRelay",
    "PublishFailed",
    "Publisher",
    "QueueNames",
    "RetryLater",
    "ServiceQueues",
    "Subscription",
    "Topology",
    "Transaction",
    "UnitOfWork",
    "connect",
    "is_transient",
    "open_messaging",
]
