"""Messaging over RabbitMQ: topology, publisher, consumer runner, outbox, inbox, unit of work.

``open_messaging`` opens the AMQP side (publisher, consumer); a service that stores state
opens ``open_transactional`` inside it (outbox, inbox, relay on MongoDB), and its use cases
write through that ``uow``. Both are opened in a background task (``shared.web.startup``);
listeners are ``Subscription``s.
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
from shared.messaging.transactional import Transactional, open_transactional
from shared.messaging.uow import BoundUnitOfWork, Transaction, UnitOfWork

__all__ = [
    "AmqpSettings",
    "BoundUnitOfWork",
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
    "Transactional",
    "UnitOfWork",
    "connect",
    "is_transient",
    "open_messaging",
    "open_transactional",
]
