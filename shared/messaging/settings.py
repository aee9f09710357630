"""RabbitMQ and relay settings, read once from the environment."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.config import ConfigError, Env

QUEUE_TYPES = ("quorum", "classic")
# RabbitMQ's own spelling of a stream's x-max-age: a count and one unit (years, months,
# days, hours, minutes, seconds), e.g. 7D or 12h.
MAX_AGE_FORM = re.compile(r"[1-9][0-9]*[YMDhms]")


@dataclass(frozen=True)
class EventLogSettings:
    """Retention of the event log, the stream every event is kept in (topology.py).

    The broker drops whole segments, oldest first, once one is older than ``max_age``
    or the log is larger than ``max_bytes``; ``segment_bytes`` is how much one segment
    holds, so it is also how finely retention cuts. These are queue arguments: see
    docs/event-log.md for what happens when they change.
    """

    max_age: str = "7D"
    max_bytes: int = 10_000_000_000  # 10 GB
    segment_bytes: int = 500_000_000  # RabbitMQ's default segment size
    metrics_interval_s: float = 60.0  # how often a service reads the log's ends (metrics)

    def __post_init__(self) -> None:
        if not MAX_AGE_FORM.fullmatch(self.max_age):
            raise ConfigError(
                "EVENT_LOG_MAX_AGE must be a count and one of the units Y, M, D, h, m, s "
                f"(RabbitMQ's x-max-age, e.g. 7D or 12h), got {self.max_age!r}"
            )

    @classmethod
    def from_env(cls, env: Env) -> EventLogSettings:
        """``EVENT_LOG_MAX_AGE``, ``EVENT_LOG_MAX_BYTES``, ``EVENT_LOG_SEGMENT_BYTES``,
        ``EVENT_LOG_METRICS_SECONDS``."""
        return cls(
            max_age=env.str("EVENT_LOG_MAX_AGE", cls.max_age),
            max_bytes=env.int("EVENT_LOG_MAX_BYTES", cls.max_bytes, minimum=1),
            segment_bytes=env.int("EVENT_LOG_SEGMENT_BYTES", cls.segment_bytes, minimum=1),
            metrics_interval_s=env.float(
                "EVENT_LOG_METRICS_SECONDS", cls.metrics_interval_s, minimum=1
            ),
        )


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
    # The event log's retention; None: no log is declared. ``from_env`` always gives one;
    # settings built in code (the test suite's) have none unless they ask, so the
    # thousands of namespaces a test run makes do not each leave a stream behind.
    event_log: EventLogSettings | None = None

    @classmethod
    def from_env(cls, env: Env) -> AmqpSettings:
        """``AMQP_URL`` (required) and the optional ``AMQP_*`` / ``OUTBOX_SWEEP_SECONDS`` /
        ``EVENT_LOG_*``."""
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
            event_log=EventLogSettings.from_env(env),
        )
