"""``make reset``: wipe what ``make up`` keeps, all of it together.

The stores in ``.run/data``, and the broker's queues and exchanges and Redis's expiry jobs
of every generation of that folder (``deploy.local.generations``). It stops nothing: while
a stack holds the folder it refuses and says so. RabbitMQ and Redis are started if they do
not answer, since they hold half of what it wipes.
"""

from __future__ import annotations

import os
from pathlib import Path

from deploy.local.console import say
from deploy.local.generations import DATA_DIR, StackRunning, family, holding, sweep, wipe_stores
from deploy.local.hosts import DEFAULT_AMQP_URL, DEFAULT_REDIS_URL, ensure_rabbitmq, ensure_redis


def reset(data_dir: Path, amqp_url: str, redis_url: str) -> None:
    """Wipe the folder's stores and every generation's queues and jobs; ``SystemExit``
    while a stack runs on the folder."""
    try:
        with holding(data_dir):
            ensure_rabbitmq(amqp_url)
            ensure_redis(redis_url)
            # The broker and Redis first: stores wiped without them would be a new
            # generation's stores beside the old generation's messages, if a sweep failed.
            sweep(amqp_url, redis_url, family(data_dir), keep=None)
            wipe_stores(data_dir)
    except StackRunning as exc:
        raise SystemExit(
            f"[stack] a stack is running on {data_dir} ({exc}): stop `make up` (Ctrl-C) first"
        ) from None
    say(f"wiped {data_dir} and its queues and expiry jobs; the next `make up` starts empty")


def main() -> None:
    reset(
        DATA_DIR,
        os.environ.get("AMQP_URL", DEFAULT_AMQP_URL),
        os.environ.get("REDIS_URL", DEFAULT_REDIS_URL),
    )


if __name__ == "__main__":
    main()
