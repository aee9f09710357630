"""Rebuilding one replica of a service while the service keeps serving (docs/rebuild.md).

The command (``python -m services.<name>.rebuild <replica>``, ``make rebuild``) only asks:
it writes a *request* mark into the service's own database and follows it until it is
done. A process of the service itself runs the rebuild (``serve_rebuilds``, one loop per
process; the first to claim the mark runs it, the others see it): it empties the replica,
asks the owner for snapshots (``snapshot.requested``, through the outbox), replays the
event log through the replica's handlers, and waits until the service's listeners have
taken as many snapshots as the owner says it published (``snapshot.completed``). Then it
clears the mark. Every write is the service's own, through its one MongoDB client, so
nothing races it from outside (docs/rebuild.md says why); the command needs only the
database, not the broker.

While the mark is up, every process of the service sees it: ``/readyz`` says
``rebuilding`` (and stays 200), and an entity not back in the replica is a 503, not a 404.

Both ways in are idempotent and ruled by versions (``shared.replica``): the log's events
apply in order, a snapshot only when newer, so they may arrive in any order, and live
events keep flowing meanwhile (one for an entity not back yet is early, and retried).

The mark is a lease: the process running the rebuild renews it, and one not renewed for
``LEASE_S`` (that process died) counts as over and may be claimed again. Every claim is a
new *run* with its own id: the lease's token (only its runner may renew or finish the mark,
so a stalled runner that wakes up after a takeover stops) and the id of the snapshots it
asks for (receipts and counts of an earlier run never count for it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared.backends import Backends
from shared.background import every
from shared.config import ConfigError, Env
from shared.events import SnapshotRequested
from shared.messaging.consumer import Subscription
from shared.messaging.eventlog import EventLogMissing, ReplayReport, Window, replay
from shared.messaging.runtime import Messaging
from shared.messaging.uow import UnitOfWork
from shared.metrics import REBUILD_EXPECTED, REBUILD_RECEIVED, REBUILD_RUNNING
from shared.mongo import Database, Mongo, MongoSettings
from shared.web.health import Note, ReadinessNote, add_readiness_note

log = logging.getLogger(__name__)

REBUILDS = "rebuilds"  # one document per replica: its mark (requested, running) or last run
RECEIPTS = "rebuild_receipts"  # one per snapshot taken: f"{run_id}:{entity_id}"
COUNTS = "rebuild_counts"  # how many snapshots the owner published, by run id
LEASE_S = 60.0  # a mark not renewed this long belongs to a dead process
REQUEST_POLL_S = 2.0  # how often each process of a service looks for a requested rebuild
KEPT_S = 7 * 24 * 3600  # receipts and counts, then MongoDB's TTL monitor drops them
REQUESTED, RUNNING, DONE, FAILED = "requested", "running", "done", "failed"

Exclusive = Callable[[], AbstractAsyncContextManager[None]]


@dataclass(frozen=True)
class Replica:
    """One replica a service keeps of another service's entities."""

    name: str  # what `make rebuild REPLICA=` names, e.g. "tickets"
    entity: str  # what snapshot.requested asks its owner for, e.g. "ticket"
    collection: str  # the replica's collection in the service's database
    events: tuple[str, ...]  # the log's events its handlers take, e.g. ("ticket.*",)


class RebuildRunning(Exception):
    """A rebuild of this replica is requested or running already (its lease is live)."""


class RebuildTimedOut(Exception):
    """The snapshots did not all arrive in time; the mark is cleared, the replica is as far
    as it got. Entities whose snapshot never arrived stay missing until a later rebuild
    (live events for them are early and, after their retries, parked): run it again."""


class RebuildLost(Exception):
    """Another process took this run's mark over (its lease had lapsed): this run stops."""


@dataclass(frozen=True)
class Claim:
    """A rebuild this process runs: the command's request, and this run of it."""

    replica: str
    request_id: str  # the command's, which it follows
    run_id: str  # this claim's: the lease's token and the snapshot request's id


@dataclass(frozen=True)
class Progress:
    received: int  # snapshots taken (or found not newer) so far
    expected: int | None  # how many the owner published; None until it said so

    @property
    def done(self) -> bool:
        return self.expected is not None and self.received >= self.expected


def _now() -> datetime:
    return datetime.now(UTC)


class MongoRebuilds:
    """``shared.replica.RebuildLog`` in the service's database, and the marks of its
    rebuilds. ``exclusive`` is the service's write lock (``Mongo.exclusive``), held around
    each write here as around its transactions."""

    def __init__(
        self, db: Database, *, exclusive: Exclusive | None = None, lease_s: float = LEASE_S
    ) -> None:
        self._db = db
        self._rebuilds = db[REBUILDS]
        self._receipts = db[RECEIPTS]
        self._counts = db[COUNTS]
        self._exclusive = exclusive or contextlib.nullcontext
        self.lease_s = lease_s
        self._lease = timedelta(seconds=lease_s)

    @classmethod
    def of(cls, mongo: Mongo) -> MongoRebuilds:
        return cls(mongo.db, exclusive=mongo.exclusive)

    async def ensure_indexes(self) -> None:
        await self._receipts.create_index("request_id", name="request")
        for kept in (self._receipts, self._counts):
            await kept.create_index("taken_at", name="forget_after", expireAfterSeconds=KEPT_S)

    # ------------------------------------------------------------- what every process sees

    async def running_replicas(self) -> list[str]:
        """The replicas whose rebuild is requested or running now (its lease is live)."""
        cursor = self._rebuilds.find(
            {"state": {"$in": [REQUESTED, RUNNING]}, "lease_until": {"$gt": _now()}},
            projection={"_id": 1},
        )
        names = sorted([str(doc["_id"]) async for doc in cursor])
        REBUILD_RUNNING.set(len(names))
        return names

    async def running(self) -> bool:
        return bool(await self.running_replicas())

    async def received(self, request_id: str, entity_id: str) -> None:
        # An upsert keyed by request and entity: a redelivered snapshot counts once.
        async with self._exclusive():
            result = await self._receipts.update_one(
                {"_id": f"{request_id}:{entity_id}"},
                {"$setOnInsert": {"request_id": request_id, "taken_at": _now()}},
                upsert=True,
            )
        if result.upserted_id is not None:
            REBUILD_RECEIVED.inc()

    async def completed(self, request_id: str, count: int) -> None:
        # Recorded whoever asked (the owner's answer goes to every service that listens;
        # another's request id is never read here). A set, not a sum: a repeated answer
        # names the same count, or more.
        async with self._exclusive():
            await self._counts.update_one(
                {"_id": request_id},
                {"$max": {"expected": count}, "$setOnInsert": {"taken_at": _now()}},
                upsert=True,
            )
        REBUILD_EXPECTED.set(count)
        log.info("request %s: the owner published %d snapshots", request_id, count)

    async def progress(self, request_id: str) -> Progress:
        count = await self._counts.find_one({"_id": request_id})
        received = await self._receipts.count_documents({"request_id": request_id})
        return Progress(received=received, expected=count["expected"] if count else None)

    # ------------------------------------------------------------------ the command's side

    async def request(self, replica: str) -> str:
        """Ask for a rebuild of ``replica``; its request id. ``RebuildRunning`` if one is
        requested or running (and its lease live)."""
        request_id = uuid.uuid4().hex
        now = _now()
        try:
            # Only a replica with no live mark matches; with no document at all the upsert
            # inserts, and a concurrent request fails on the duplicate _id.
            async with self._exclusive():
                await self._rebuilds.update_one(
                    {
                        "_id": replica,
                        "$or": [
                            {"state": {"$nin": [REQUESTED, RUNNING]}},
                            {"lease_until": {"$lte": now}},
                        ],
                    },
                    {
                        "$set": {
                            "state": REQUESTED,
                            "request_id": request_id,
                            "requested_at": now,
                            # Nobody claiming it within the lease (the service is down): over.
                            "lease_until": now + self._lease,
                            "stage": "requested",
                        },
                        "$unset": {"error": "", "report": "", "finished_at": ""},
                    },
                    upsert=True,
                )
        except DuplicateKeyError:
            raise RebuildRunning(f"a rebuild of {replica} is running already") from None
        return request_id

    async def mark(self, replica: str) -> dict[str, Any] | None:
        """The replica's mark as it is now (state, stage, report or error)."""
        doc: dict[str, Any] | None = await self._rebuilds.find_one({"_id": replica})
        return doc

    # ---------------------------------------------------------------- the service's side

    async def claim(self, replicas: Sequence[str]) -> Claim | None:
        """Take one requested rebuild of ``replicas`` (or one whose runner died) to run it
        here as a new run, or None."""
        now = _now()
        run_id = uuid.uuid4().hex
        async with self._exclusive():
            doc = await self._rebuilds.find_one_and_update(
                {
                    "_id": {"$in": list(replicas)},
                    "$or": [
                        {"state": REQUESTED, "lease_until": {"$gt": now}},
                        {"state": RUNNING, "lease_until": {"$lte": now}},
                    ],
                },
                {
                    "$set": {
                        "state": RUNNING,
                        "run_id": run_id,
                        "started_at": now,
                        "lease_until": now + self._lease,
                    }
                },
                return_document=ReturnDocument.AFTER,
            )
        if doc is None:
            return None
        return Claim(replica=str(doc["_id"]), request_id=str(doc["request_id"]), run_id=run_id)

    async def renew(self, replica: str, run_id: str, **fields: Any) -> bool:
        """Keep the run's lease live, and note ``fields`` (the stage) for the command to
        show; False when the mark is no longer this run's (taken over, or finished)."""
        async with self._exclusive():
            result = await self._rebuilds.update_one(
                {"_id": replica, "run_id": run_id, "state": RUNNING},
                {"$set": {"lease_until": _now() + self._lease, **fields}},
            )
        return result.matched_count == 1

    async def empty(self, collection: str) -> int:
        """Drop every entry of the replica in ``collection``; how many there were."""
        async with self._exclusive():
            return (await self._db[collection].delete_many({})).deleted_count

    async def finish(self, replica: str, run_id: str, *, state: str, **fields: Any) -> bool:
        """Clear the mark if it is still this run's: ``state`` is ``done`` or ``failed``,
        ``fields`` what to keep. False when another run holds it (this one's result is
        not the mark's to show)."""
        async with self._exclusive():
            result = await self._rebuilds.update_one(
                {"_id": replica, "run_id": run_id},
                {"$set": {"state": state, "finished_at": _now(), **fields}},
            )
        await self.running_replicas()  # the gauge, at once
        return result.matched_count == 1


def readiness_note(rebuilds: MongoRebuilds) -> ReadinessNote:
    """``/readyz``'s note while a rebuild runs: status ``rebuilding``, still 200."""

    async def note() -> Note | None:
        names = await rebuilds.running_replicas()
        return Note("rebuilding", ", ".join(names)) if names else None

    return note


@dataclass(frozen=True)
class RebuildReport:
    replica: str
    request_id: str
    dropped: int  # entries of the replica emptied at the start
    replayed: ReplayReport | None  # None: no replay
    snapshots: int  # how many the owner published
    elapsed_s: float

    def line(self) -> str:
        replayed = self.replayed.line() if self.replayed is not None else "no replay"
        return (
            f"rebuilt {self.replica}: dropped {self.dropped}, {self.snapshots} snapshots, "
            f"log: {replayed}; {self.elapsed_s:.1f} s (request {self.request_id})"
        )


async def rebuild(
    replica: Replica,
    run_id: str,
    *,
    service: str,
    uow: UnitOfWork,
    rebuilds: MongoRebuilds,
    replay_log: Callable[[], Awaitable[ReplayReport | None]] | None = None,
    timeout_s: float = 600.0,
    poll_s: float = 0.2,
) -> RebuildReport:
    """Rebuild ``replica`` of ``service`` under the mark claimed as run ``run_id`` (see the
    module); its snapshots are asked for, and counted, under ``run_id``.

    ``replay_log`` replays the event log through the replica's handlers (None, or a replay
    that returns None: snapshots only). ``RebuildTimedOut`` after ``timeout_s`` without
    every snapshot taken; ``RebuildLost`` once another process took the mark over. The
    caller clears the mark.
    """
    started = time.monotonic()
    lost = asyncio.Event()
    renewing = asyncio.create_task(_renewing(rebuilds, replica.name, run_id, lost))

    async def stage(name: str) -> None:
        if not await rebuilds.renew(replica.name, run_id, stage=name):
            lost.set()
        if lost.is_set():
            raise RebuildLost(f"{replica.name}: the mark is no longer run {run_id}'s")

    try:
        # Emptied before the snapshots are asked for: one taken before would be dropped.
        dropped = await rebuilds.empty(replica.collection)
        async with uow.begin() as tx:
            await tx.emit(SnapshotRequested(run_id, replica.entity, service))
        await stage("replaying the log")
        replayed = await replay_log() if replay_log is not None else None
        await stage("waiting for the snapshots")
        progress = await _until_taken(rebuilds, replica, run_id, timeout_s, poll_s, lost)
    finally:
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing
    return RebuildReport(
        replica=replica.name,
        request_id=run_id,
        dropped=dropped,
        replayed=replayed,
        snapshots=progress.expected or 0,
        elapsed_s=time.monotonic() - started,
    )


async def _until_taken(
    rebuilds: MongoRebuilds,
    replica: Replica,
    run_id: str,
    timeout_s: float,
    poll_s: float,
    lost: asyncio.Event,
) -> Progress:
    deadline = time.monotonic() + timeout_s
    while not (progress := await rebuilds.progress(run_id)).done:
        if lost.is_set():
            raise RebuildLost(f"{replica.name}: the mark is no longer run {run_id}'s")
        if time.monotonic() > deadline:
            raise RebuildTimedOut(
                f"{replica.name}: {progress.received} of {progress.expected} snapshots "
                f"taken after {timeout_s:g} s"
            )
        await asyncio.sleep(poll_s)
    return progress


async def _renewing(
    rebuilds: MongoRebuilds, replica: str, run_id: str, lost: asyncio.Event
) -> None:
    """Keep the run's lease live for as long as the rebuild runs (a long replay too); set
    ``lost`` and stop once the mark is another run's."""
    while True:
        await asyncio.sleep(rebuilds.lease_s / 3)
        try:
            if not await rebuilds.renew(replica, run_id):
                log.warning("the rebuild mark of %s was taken over: run %s stops", replica, run_id)
                lost.set()
                return
        except Exception:  # the next round tries again; a lapsed lease only ends the mark
            log.exception("renewing the rebuild mark of %s failed", replica)


# ------------------------------------------------------------- the service: serving requests


@dataclass(frozen=True)
class Rebuildable:
    """A service's replicas, as its bootstrap names them for the command and for itself."""

    service: str
    replicas: Mapping[str, Replica]


@dataclass(frozen=True)
class Rebuilder:
    """What a service's process needs to run its replicas' rebuilds itself."""

    service: str
    replicas: Mapping[str, Replica]
    uow: UnitOfWork
    rebuilds: MongoRebuilds
    messaging: Messaging
    subscriptions: Sequence[Subscription[Any]]  # the service's own, bound to its deps
    timeout_s: float = 600.0

    async def serve_one(self) -> RebuildReport | None:
        """Run one requested rebuild, if there is one to claim; its report."""
        claimed = await self.rebuilds.claim(list(self.replicas))
        if claimed is None:
            return None
        name, run_id = claimed.replica, claimed.run_id
        replica = self.replicas[name]
        log.info(
            "rebuilding %s of %s (request %s, run %s)",
            name,
            self.service,
            claimed.request_id,
            run_id,
        )

        async def replay_log() -> ReplayReport | None:
            try:
                return await replay(
                    self.messaging.connection,
                    self.messaging.topology,
                    subscriptions=self.subscriptions,
                    window=Window(events=replica.events),
                    service=self.service,
                )
            except EventLogMissing as exc:
                # The snapshots alone make the replica equal; the log only spares them work.
                log.warning("rebuild of %s: no event log to replay (%s)", name, exc)
                return None

        try:
            report = await rebuild(
                replica,
                run_id,
                service=self.service,
                uow=self.uow,
                rebuilds=self.rebuilds,
                replay_log=replay_log,
                timeout_s=self.timeout_s,
            )
        except BaseException as exc:  # cancelled at shutdown too: the mark must not stay up
            log.exception("rebuild of %s failed", name)
            await self.rebuilds.finish(name, run_id, state=FAILED, error=repr(exc))
            raise
        await self.rebuilds.finish(name, run_id, state=DONE, report=report.line())
        log.info("%s", report.line())
        return report


@asynccontextmanager
async def serving_rebuilds(
    app: web.Application,
    target: Rebuildable,
    backends: Backends,
    rebuilds: MongoRebuilds,
    subscriptions: Sequence[Subscription[Any]],
) -> AsyncIterator[None]:
    """For the block: ``/readyz``'s rebuilding note, and this process taking and running
    the rebuilds the command requests (every ``REQUEST_POLL_S``) with the service's
    ``backends`` and its own ``subscriptions``."""
    add_readiness_note(app, "rebuild", readiness_note(rebuilds))
    rebuilder = Rebuilder(
        target.service, target.replicas, backends.uow, rebuilds, backends.messaging, subscriptions
    )
    async with every(REQUEST_POLL_S, rebuilder.serve_one, what="rebuild requests"):
        yield


# ---------------------------------------------------------------------- the command


async def request_rebuild(
    rebuilds: MongoRebuilds,
    replica: str,
    *,
    timeout_s: float = 600.0,
    poll_s: float = 0.5,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Ask the service for a rebuild of ``replica`` and follow it to its end; the final
    mark (``state`` ``done`` or ``failed``, ``report`` or ``error``)."""
    request_id = await rebuilds.request(replica)
    say(f"rebuild of {replica} requested ({request_id}); a process of the service runs it")
    deadline = time.monotonic() + timeout_s
    shown = ""
    while True:
        mark = await rebuilds.mark(replica)
        if mark is None or mark.get("request_id") != request_id:
            raise RebuildRunning(f"the request for {replica} was replaced: {mark}")
        if mark["state"] in (DONE, FAILED):
            return mark
        if mark["state"] == REQUESTED and mark["lease_until"] <= _now():
            raise RebuildTimedOut(f"no process of the service took the rebuild of {replica}")
        # The snapshots are counted by run: none before a process claimed the request.
        run_id = mark.get("run_id") if mark["state"] == RUNNING else None
        progress = await rebuilds.progress(run_id) if run_id else Progress(0, None)
        line = f"{mark['state']}: {mark.get('stage', '')}, {progress.received} of "
        line += f"{progress.expected if progress.expected is not None else '?'} snapshots"
        if line != shown:
            say(line)
            shown = line
        if time.monotonic() > deadline:
            raise RebuildTimedOut(f"the rebuild of {replica} is still {mark['state']}")
        await asyncio.sleep(poll_s)


async def _command(replica: str, mongo: MongoSettings, timeout_s: float) -> int:
    client = Mongo.connect(mongo)
    try:
        mark = await request_rebuild(MongoRebuilds(client.db), replica, timeout_s=timeout_s)
    except (RebuildRunning, RebuildTimedOut) as exc:
        print(f"rebuild: {exc}", file=sys.stderr)
        return 2
    finally:
        await client.close()
    if mark["state"] == DONE:
        print(mark.get("report", "done"))
        return 0
    print(f"rebuild failed: {mark.get('error')}", file=sys.stderr)
    return 1


def main(target: Rebuildable, argv: Sequence[str] | None = None) -> int:
    """``python -m services.<service>.rebuild <replica>``, with the service's ``MONGO_URL``:
    it only needs the service's database."""
    parser = argparse.ArgumentParser(
        prog=f"python -m services.{target.service}.rebuild",
        description=f"Rebuild one of {target.service}'s replicas while it runs.",
    )
    parser.add_argument("replica", choices=sorted(target.replicas))
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        mongo = MongoSettings.from_env(Env(os.environ), default_database=target.service)
    except ConfigError as exc:
        print(f"rebuild: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_command(args.replica, mongo, args.timeout))
