"""The marks and receipts of a rebuild in the service's database (shared.messaging.rebuild),
on MongoDB (mongoeco): one live request per replica, claimed by one process; a lapsed lease
is over; a receipt counts once; the owner's count makes it done."""

from __future__ import annotations

import pytest

from shared.messaging import Outbox, UnitOfWork
from shared.messaging.rebuild import (
    MongoRebuilds,
    RebuildLost,
    RebuildRunning,
    Replica,
    rebuild,
)
from shared.mongo import Mongo


async def test_a_request_is_rebuilding_until_finished_and_only_one_at_a_time(
    mongo: Mongo,
) -> None:
    rebuilds = MongoRebuilds(mongo.db)
    assert not await rebuilds.running()

    await rebuilds.request("tickets")

    assert await rebuilds.running_replicas() == ["tickets"]
    with pytest.raises(RebuildRunning):
        await rebuilds.request("tickets")
    claimed = await rebuilds.claim(["tickets"])
    assert claimed is not None
    assert await rebuilds.running_replicas() == ["tickets"]
    await rebuilds.finish("tickets", claimed.run_id, state="done")
    assert not await rebuilds.running()
    await rebuilds.request("tickets")  # a finished one leaves room for the next
    assert await rebuilds.running()


async def test_a_request_is_claimed_by_one_process_only(mongo: Mongo) -> None:
    rebuilds, other_process = MongoRebuilds(mongo.db), MongoRebuilds(mongo.db)
    request_id = await rebuilds.request("tickets")

    assert await rebuilds.claim(["orders"]) is None  # not one of its replicas
    claimed = await rebuilds.claim(["tickets"])
    assert claimed is not None
    assert (claimed.replica, claimed.request_id) == ("tickets", request_id)
    assert await other_process.claim(["tickets"]) is None
    mark = await rebuilds.mark("tickets")
    assert mark is not None
    assert (mark["state"], mark["run_id"]) == ("running", claimed.run_id)


async def test_a_rebuild_whose_lease_lapsed_is_over_and_may_be_claimed_again(
    mongo: Mongo,
) -> None:
    crashed = MongoRebuilds(mongo.db, lease_s=-1)  # every lease it gives has run out
    request_id = await crashed.request("tickets")
    rebuilds = MongoRebuilds(mongo.db)

    assert not await rebuilds.running()  # nobody took it: not rebuilding
    assert await rebuilds.claim(["tickets"]) is None  # and too late to take
    later = await rebuilds.request("tickets")  # a new request is not refused
    assert later != request_id
    first = await crashed.claim(["tickets"])
    assert first is not None
    assert first.request_id == later
    # Its runner died (its lease ran out at once): another process takes the rebuild over.
    taken_over = await rebuilds.claim(["tickets"])
    assert taken_over is not None
    assert taken_over.request_id == later


async def test_a_takeover_is_a_new_run_the_stalled_runner_can_no_longer_renew_or_finish(
    mongo: Mongo,
) -> None:
    stalled = MongoRebuilds(mongo.db, lease_s=-1)  # its lease lapses at once, as if it hung
    rebuilds = MongoRebuilds(mongo.db)
    await rebuilds.ensure_indexes()
    await rebuilds.request("tickets")
    first = await stalled.claim(["tickets"])
    assert first is not None
    await stalled.received(first.run_id, "t1")
    await stalled.completed(first.run_id, 1)

    second = await rebuilds.claim(["tickets"])

    assert second is not None
    assert (second.request_id, second.run_id != first.run_id) == (first.request_id, True)
    # The first run's snapshots do not count for the second: its replica was emptied again.
    assert not (await rebuilds.progress(second.run_id)).done
    # The stalled runner wakes up: its renewals and its result no longer touch the mark.
    assert not await stalled.renew("tickets", first.run_id, stage="stale")
    assert not await stalled.finish("tickets", first.run_id, state="done", report="stale")
    mark = await rebuilds.mark("tickets")
    assert mark is not None
    assert (mark["state"], mark["run_id"], mark["stage"]) == ("running", second.run_id, "requested")
    assert await rebuilds.renew("tickets", second.run_id, stage="replaying the log")
    assert await rebuilds.finish("tickets", second.run_id, state="done")


async def test_a_runner_whose_mark_was_taken_over_stops_without_touching_it(
    mongo: Mongo,
) -> None:
    rebuilds = MongoRebuilds(mongo.db)
    await rebuilds.request("tickets")
    mine = await rebuilds.claim(["tickets"])
    assert mine is not None
    # Another process claimed it meanwhile (as after this one's lease lapsed): a new run.
    await mongo.db.rebuilds.update_one({"_id": "tickets"}, {"$set": {"run_id": "another-run"}})
    replica = Replica("tickets", "ticket", "tickets", ("ticket.*",))

    with pytest.raises(RebuildLost):
        await rebuild(
            replica,
            mine.run_id,
            service="orders",
            uow=UnitOfWork(mongo, Outbox(mongo.db)),
            rebuilds=rebuilds,
            timeout_s=30,
        )

    mark = await rebuilds.mark("tickets")
    assert mark is not None
    assert (mark["state"], mark["run_id"], mark["stage"]) == ("running", "another-run", "requested")


async def test_the_rebuild_is_done_once_as_many_snapshots_as_published_are_taken(
    mongo: Mongo,
) -> None:
    rebuilds = MongoRebuilds(mongo.db)
    await rebuilds.ensure_indexes()
    request_id = await rebuilds.request("tickets")
    await rebuilds.received(request_id, "t1")
    await rebuilds.received(request_id, "t1")  # a redelivery counts once
    await rebuilds.received("another-request-id", "t2")
    assert not (await rebuilds.progress(request_id)).done  # the owner has not said how many

    await rebuilds.completed(request_id, 2)
    halfway = await rebuilds.progress(request_id)
    await rebuilds.received(request_id, "t2")

    assert (halfway.received, halfway.expected, halfway.done) == (1, 2, False)
    assert (await rebuilds.progress(request_id)).done


async def test_a_count_for_another_request_leaves_this_one_waiting(mongo: Mongo) -> None:
    rebuilds = MongoRebuilds(mongo.db)
    request_id = await rebuilds.request("tickets")

    await rebuilds.completed("fedcba9876543210fedcba9876543210", 5)

    assert (await rebuilds.progress(request_id)).expected is None
