"""The checks themselves: each flags what breaks its promise and passes what keeps it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId

from shared.testing.money import AtStripe, Charge
from tools.chaos.flows import FlowResult
from tools.chaos.invariants import (
    holders_agree,
    money_at_stripe,
    no_overdue_orders,
    one_live_order_per_ticket,
    payments_agree_with_stripe,
    race_winners,
    replicas_converged,
)
from tools.chaos.stores import Snapshot

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
TICKET = "6b0ea528805ac59809a15200"


def order(order_id: str, status: str, version: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "_id": order_id,
        "ticket_id": TICKET,
        "status": status,
        "version": version,
        "expires_at": NOW,
        **overrides,
    }


def snapshot(*orders: dict[str, Any], **fields: Any) -> Snapshot:
    return Snapshot(now=NOW, orders={o["_id"]: o for o in orders}, **fields)


def test_two_live_orders_on_one_ticket_are_a_violation() -> None:
    snap = snapshot(order("o1", "complete"), order("o2", "created", 0))

    check = one_live_order_per_ticket(snap)

    assert check.violations == [f"ticket {TICKET}: live orders o1 complete, o2 created"]


def test_a_ticket_naming_a_cancelled_order_as_its_holder_is_a_violation() -> None:
    snap = snapshot(
        order("o1", "cancelled"),
        tickets={TICKET: {"_id": TICKET, "order_id": "o1"}},
        ticket_replicas={TICKET: {"_id": TICKET, "held_by": None}},
    )

    check = holders_agree(snap)

    assert check.violations == [f"ticket {TICKET}: tickets says orderId o1, live order is None"]


def test_payments_replica_of_a_complete_order_is_the_created_version_before_it() -> None:
    complete = snapshot(
        order("o1", "complete", 1),
        order_replicas={"o1": {"_id": "o1", "status": "created", "version": 0}},
    )
    lagging = snapshot(
        order("o2", "cancelled", 1),
        order_replicas={"o2": {"_id": "o2", "status": "created", "version": 0}},
    )

    assert replicas_converged(complete).violations == []
    assert len(replicas_converged(lagging).violations) == 1


def test_a_cancelled_order_that_keeps_a_charge_breaks_the_money_promise() -> None:
    kept = Charge("pi_1", "succeeded", 2000)
    snap = snapshot(
        order("o1", "cancelled"),
        at_stripe={"o1": AtStripe("o1", [kept])},
        payments=[{"order_id": "o1", "stripe_id": "pi_1", "status": "refunded"}],
    )

    assert len(money_at_stripe(snap).violations) == 1
    assert payments_agree_with_stripe(snap).violations == [
        "order o1: pi_1 is 'refunded' in payments, kept at Stripe"
    ]


def test_a_refund_payments_has_not_confirmed_is_a_violation_after_quiescence() -> None:
    refunded = Charge("pi_1", "succeeded", 2000, refunded_cents=2000)
    snap = snapshot(
        order("o1", "cancelled"),
        at_stripe={"o1": AtStripe("o1", [refunded])},
        payments=[{"order_id": "o1", "stripe_id": "pi_1", "status": "refunding"}],
    )

    assert money_at_stripe(snap).violations == []
    assert len(payments_agree_with_stripe(snap).violations) == 1


def test_a_created_order_is_overdue_only_past_its_expiry_and_the_sweeps_grace() -> None:
    snap = snapshot(
        order("o1", "created", 0, expires_at=NOW - timedelta(seconds=10)),
        order("o2", "created", 0, expires_at=NOW - timedelta(seconds=2)),
    )

    check = no_overdue_orders(snap, overdue_s=5)

    assert [v.split(":")[0] for v in check.violations] == ["order o1"]


def test_a_second_racing_winner_is_legal_only_after_the_first_order_expired() -> None:
    first = ObjectId.from_datetime(NOW - timedelta(seconds=10))
    after_expiry = ObjectId.from_datetime(NOW - timedelta(seconds=4))
    during_hold = ObjectId.from_datetime(NOW - timedelta(seconds=8))
    expired = order(str(first), "cancelled", expires_at=NOW - timedelta(seconds=6))

    def race(later: ObjectId) -> FlowResult:
        return FlowResult(1, "pay", order_id=str(first), winners=[str(first), str(later)])

    sequential = snapshot(expired, order(str(after_expiry), "complete"))
    overlapping = snapshot(expired, order(str(during_hold), "complete"))

    assert race_winners(sequential, [race(after_expiry)]).violations == []
    assert len(race_winners(overlapping, [race(during_hold)]).violations) == 1
