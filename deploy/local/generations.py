"""``make up``'s kept data, and the generation that ties the broker and Redis to it.

The stores live in ``.run/data/`` (one mongoeco SQLite file per service). Whenever they are
made new (first run, after ``make reset``, or the folder was lost) the folder gets a new
*generation* id, ``.run/data/generation``. The stack's AMQP namespace is
``stack-<folder>-<generation>`` and its arq queue ``arq:<namespace>.expiration``, so its
queues, exchanges and expiry jobs are named after the stores they belong to (``<folder>``,
a hash of the data folder's path, keeps two clones on one broker apart). At every start the
stack deletes those of the folder's other generations (``sweep``): a restart keeps the
queues and jobs the kept stores know, and never leaves any the new stores cannot know.

Fired expiry jobs' results (``arq:result:expire:<orderId>``, kept a day) are not swept:
they are named by order ids the new stores never hand out again, and hold no work.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

import redis

from deploy.local.console import say
from deploy.local.paths import RUN_DIR
from shared.testing.infra import (
    broker_names,
    delete_queues_and_exchanges,
    has_rabbitmqctl,
    vhost_of,
)

DATA_DIR = RUN_DIR / "data"
ARQ_JOB_KEYS = ("arq:job:", "arq:in-progress:", "arq:retry:")


class StackRunning(Exception):
    """Another stack holds the data folder."""


def family(data_dir: Path) -> str:
    """What every namespace of the folder's generations starts with; its stack owns them."""
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:6]
    return f"stack-{digest}-"


@dataclass(frozen=True)
class Generation:
    family: str
    id: str
    new: bool  # the stores were just made

    @property
    def namespace(self) -> str:
        return f"{self.family}{self.id}"

    @property
    def expiration_queue(self) -> str:
        return expiration_queue(self.namespace)


def expiration_queue(namespace: str) -> str:
    """The arq queue expiration uses in a namespace (its own default for one)."""
    return f"arq:{namespace}.expiration"


def store_path(data_dir: Path, service: str) -> Path:
    return data_dir / f"{service}.sqlite"


def open_generation(data_dir: Path, services: set[str]) -> Generation:
    """The kept generation when the folder has it and every store; else new, empty stores."""
    marker = data_dir / "generation"
    kept = marker.exists() and all(store_path(data_dir, s).exists() for s in services)
    if kept:
        return Generation(family(data_dir), marker.read_text().strip(), new=False)
    wipe_stores(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    generation = Generation(family(data_dir), secrets.token_hex(4), new=True)
    # Written before any store is: a store never exists without the generation it is of.
    marker.write_text(generation.id + "\n")
    return generation


def wipe_stores(data_dir: Path) -> None:
    """Delete the stores and the generation; the lock file stays (its holder may be us)."""
    if not data_dir.exists():
        return
    for entry in data_dir.iterdir():
        if entry.name == "lock":
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


@contextmanager
def holding(data_dir: Path) -> Iterator[None]:
    """Hold the data folder for a stack (or a reset); ``StackRunning`` if another does.

    A lock, not a pid file: the kernel lets go when its holder dies, however it dies.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "lock").open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StackRunning(holder(lock)) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        yield


def holder(lock: IO[str]) -> str:
    lock.seek(0)
    pid = lock.read().strip()
    return f"pid {pid}" if pid else "another process"


def sweep(amqp_url: str, redis_url: str, family: str, *, keep: str | None) -> None:
    """Delete the queues, exchanges and expiry jobs of the family's generations but ``keep``."""
    keep_namespace = f"{family}{keep}" if keep else None
    queues, exchanges = broker_objects(amqp_url, family, keep_namespace)
    if queues or exchanges:
        asyncio.run(delete_queues_and_exchanges(amqp_url, queues, exchanges))
        say(f"deleted {len(queues)} queues and {len(exchanges)} exchanges of other generations")
    jobs = delete_jobs(redis_url, family, keep_namespace)
    if jobs:
        say(f"deleted {jobs} expiry jobs of other generations")


def broker_objects(
    amqp_url: str, family: str, keep_namespace: str | None
) -> tuple[list[str], list[str]]:
    """The family's queue and exchange names on the URL's vhost, but ``keep_namespace``'s."""
    if not has_rabbitmqctl():
        say("rabbitmqctl not found: the broker's old generations, if any, are left as they are")
        return [], []
    vhost = vhost_of(amqp_url)
    kept = f"{keep_namespace}." if keep_namespace else None

    def ours(name: str) -> bool:
        return name.startswith(family) and not (kept and name.startswith(kept))

    return (
        [name for name in broker_names("list_queues", "-p", vhost, "name") if ours(name)],
        [name for name in broker_names("list_exchanges", "-p", vhost, "name") if ours(name)],
    )


def delete_jobs(redis_url: str, family: str, keep_namespace: str | None) -> int:
    """Delete the arq keys of other generations (queues with their jobs, health checks);
    how many jobs."""
    kept = expiration_queue(keep_namespace) if keep_namespace else None
    client = redis.Redis.from_url(redis_url)
    try:
        deleted = 0
        for raw in client.scan_iter(match=f"arq:{family}*"):
            key = raw.decode()
            if kept and key.startswith(kept):
                continue
            job_ids: list[str] = []
            if client.type(key) == b"zset":  # a queue: its members are its jobs' ids
                job_ids = [m.decode() for m in cast(list[bytes], client.zrange(key, 0, -1))]
            keys = [prefix + job_id for job_id in job_ids for prefix in ARQ_JOB_KEYS]
            client.delete(key, *keys)
            deleted += len(job_ids)
        return deleted
    finally:
        client.close()
