"""expiration's settings, read once from the environment (both processes share them)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from urllib.parse import unquote

from arq.connections import RedisSettings as ArqRedisSettings

from shared.config import ConfigError, Env, mask_url
from shared.logging import LogSettings
from shared.messaging import AmqpSettings
from shared.web import HttpSettings

SERVICE = "expiration"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class RedisSettings:
    """Where the expiry jobs live.

    Kept as the URL rather than arq's settings object, so that logging the settings
    masks the password.
    """

    url: str = DEFAULT_REDIS_URL

    @property
    def arq(self) -> ArqRedisSettings:
        settings = ArqRedisSettings.from_dsn(self.url)
        # arq keeps the URL's user and password percent-encoded, and a password with "@", "/"
        # or ":" fits in a URL only encoded: Redis must get it decoded.
        return dataclasses.replace(
            settings,
            username=unquote(settings.username) if settings.username else settings.username,
            password=unquote(settings.password) if settings.password else settings.password,
        )

    @classmethod
    def from_env(cls, env: Env) -> RedisSettings:
        """``REDIS_URL``: ``redis://``, ``rediss://`` or ``unix://``."""
        url = env.str("REDIS_URL", DEFAULT_REDIS_URL)
        try:
            ArqRedisSettings.from_dsn(url)
        except (RuntimeError, ValueError) as exc:
            raise ConfigError(
                f"REDIS_URL must be a redis://, rediss:// or unix:// URL, "
                f"got {mask_url(url)!r} ({exc})"
            ) from None
        return cls(url=url)


@dataclass(frozen=True)
class ExpirySettings:
    """How the arq worker runs the expiry jobs.

    ``poll_delay_s`` bounds how late a job fires: it is due between two polls, so it
    waits up to one delay. Measured (bench.expiration_lateness), nearly all of an
    order's lateness is this wait; the confirmed publish after it takes about 1 ms. 0.02 s
    keeps the p99 under issue 17's 50 ms (0.1 s gave a p99 of about 110 ms), for about
    2 % of a core when idle (0.5 % at 0.1 s): one ZRANGEBYSCORE per poll.

    ``keep_result_s`` is how long a fired job's result keeps its id taken (recipes §2).
    While it is kept, a replayed ``order.created`` enqueues nothing, so the order does
    not expire twice. A day outlasts redeliveries, consumer retries and outbox
    re-publishes; a replay after that (a late re-drive) fires again at once, which is
    harmless because orders ignores the expiry of a cancelled or complete order. ``0``
    would allow that for every replay that comes after the job ran.

    An unconfirmed publish is retried after ``retry_delay_s(try)``: doubling from
    ``first_retry_delay_s`` up to ``max_retry_delay_s``, ``max_tries`` times in all
    (about 47 minutes with the defaults). Past that the job is dropped and orders'
    sweeper expires the order. ``job_timeout_s`` must exceed the publisher's own
    confirm timeout (10 s), or a slow broker would fail the job instead of retrying it.
    """

    queue_name: str = "arq:expiration"
    poll_delay_s: float = 0.02
    max_jobs: int = 100
    job_timeout_s: float = 30.0
    keep_result_s: float = 24 * 3600.0
    max_tries: int = 100
    first_retry_delay_s: float = 0.5
    max_retry_delay_s: float = 30.0

    @classmethod
    def from_env(cls, env: Env, *, namespace: str) -> ExpirySettings:
        """``EXPIRATION_*``; the queue is named after ``AMQP_NAMESPACE`` unless given."""
        default_queue = f"arq:{namespace}.expiration" if namespace else cls.queue_name
        poll_delay_s = env.float("EXPIRATION_POLL_DELAY_SECONDS", cls.poll_delay_s)
        if poll_delay_s <= 0:
            raise ConfigError(f"EXPIRATION_POLL_DELAY_SECONDS must be positive, got {poll_delay_s}")
        keep_result_s = env.float("EXPIRATION_KEEP_RESULT_SECONDS", cls.keep_result_s)
        if keep_result_s < 0:
            raise ConfigError(
                f"EXPIRATION_KEEP_RESULT_SECONDS must not be negative, got {keep_result_s}"
            )
        return cls(
            queue_name=env.str("EXPIRATION_QUEUE", default_queue),
            poll_delay_s=poll_delay_s,
            max_jobs=env.int("EXPIRATION_MAX_JOBS", cls.max_jobs, minimum=1),
            keep_result_s=keep_result_s,
            max_tries=env.int("EXPIRATION_MAX_TRIES", cls.max_tries, minimum=1),
        )

    def retry_delay_s(self, job_try: int) -> float:
        """How long to wait after the ``job_try``-th try (1-based) failed to publish."""
        return min(self.max_retry_delay_s, self.first_retry_delay_s * 2.0 ** (job_try - 1))


@dataclass(frozen=True)
class Settings:
    http: HttpSettings
    log: LogSettings
    amqp: AmqpSettings
    redis: RedisSettings
    expiry: ExpirySettings

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = Env(os.environ if environ is None else environ)
        amqp = AmqpSettings.from_env(env)
        return cls(
            http=HttpSettings.from_env(env),
            log=LogSettings.from_env(env),
            amqp=amqp,
            redis=RedisSettings.from_env(env),
            expiry=ExpirySettings.from_env(env, namespace=amqp.namespace),
        )
