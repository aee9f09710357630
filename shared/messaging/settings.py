"""RabbitMQ and relay settings, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import ConfigError, Env

QUEUE_TYPES = ("quorum", "classic")


@dataclass(frozen=True)
class AmqpSettings:
    """Where the broker is and how patient the consumers and the outbox relay are.

    ``namespace`` prefixes the exchange and every queue (tests, side-by-side stacks).
    ``delivery_limit`` and ``retry_delay_ms`` become queue arguments: changing them
    for an existing queue makes RabbitMQ refuse the declaration (406), so a change
    needs the queues deleted or moved to a policy first.
    """

    url: str
    namespace: str = ""
    prefetch: int = 32
    retry_delay_ms: int = 1000
    max_retries: int = 10
    delivery_limit: int = 5
    sweep_interval_s: float = 5.0
    # quorum: replicated, with the broker's delivery limit and at-least-once dead-lettering.
    # classic: for the test suite only — RabbitMQ 3.10 wedged here (new connections hung)
    # after a few thousand short-lived quorum queues; classic queues have no delivery
    # limit, so a message whose consumer keeps crashing is not parked.
    queue_type: str = "quorum"

    @classmethod
    def from_env(cls, env: Env) -> AmqpSettings:
        """``AMQP_URL`` (required) and the optional ``AMQP_*`` / ``OUTBOX_SWEEP_SECONDS``."""
        sweep_interval_s = env.float("OUTBOX_SWEEP_SECONDS", cls.sweep_interval_s)
        if sweep_interval_s <= 0:
            raise ConfigError(f"OUTBOX_SWEEP_SECONDS must be positive, got {sweep_interval_s}")
        queue_type = env.str("AMQP_QUEUE_TYPE", cls.queue_type)
        if queue_type not in QUEUE_TYPES:
            raise ConfigError(f"AMQP_QUEUE_TYPE must be quorum or classic, got {queue_type!r}")
        return cls(
            url=env.str("AMQP_URL"),
            namespace=env.str("AMQP_NAMESPACE", ""),
            prefetch=env.int("AMQP_PREFETCH", cls.prefetch, minimum=1),
            retry_delay_ms=env.int("AMQP_RETRY_DELAY_MS", cls.retry_delay_ms, minimum=1),
            max_retries=env.int("AMQP_MAX_RETRIES", cls.max_retries, minimum=1),
            delivery_limit=env.int("AMQP_DELIVERY_LIMIT", cls.delivery_limit, minimum=1),
            sweep_interval_s=sweep_interval_s,
            queue_type=queue_type,
        )
