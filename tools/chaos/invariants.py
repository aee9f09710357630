"""The product's promises, checked over a snapshot of every store after the run settles.

Each check is a pure function of what was read (and of what the flows and the timeline
recorded), and names every violation with the ids involved and what each store said.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from bson import ObjectId

from shared.events import OrderStatus
from shared.testing.money import money_violations
from tools.chaos.flows import FlowResult
from tools.chaos.stores import Document, Snapshot
from tools.chaos.timeline import Timeline

# Statuses whose order holds its ticket, and those that end an order.
LIVE = (OrderStatus.CREATED, OrderStatus.AWAITING_PAYMENT, OrderStatus.COMPLETE)
FINAL = (OrderStatus.COMPLETE, OrderStatus.CANCELLED)


@dataclass
class Check:
    name: str
    violations: list[str] = field(default_factory=list)
    skipped: str = ""


def _live_by_ticket(snap: Snapshot) -> dict[str, list[str]]:
    live: dict[str, list[str]] = defaultdict(list)
    for order_id, order in snap.orders.items():
        if order["status"] in LIVE:
            live[order["ticket_id"]].append(order_id)
    return live


def one_live_order_per_ticket(snap: Snapshot) -> Check:
    check = Check("no ticket held by two live orders")
    for ticket_id, orders in sorted(_live_by_ticket(snap).items()):
        if len(orders) > 1:
            statuses = [f"{o} {snap.orders[o]['status']}" for o in orders]
            check.violations.append(f"ticket {ticket_id}: live orders {', '.join(statuses)}")
    return check


def race_winners(snap: Snapshot, flows: list[FlowResult]) -> Check:
    """Every order a buyer was given (201) is in orders' database, and orders two racing
    buyers were given never held the ticket at once.

    A later winner is legal only once the earlier order ended. Nobody cancels an order of a
    flow before its expiry but the flow's own acknowledged DELETE, so a later order created
    (by its ObjectId's time, to the second) before the earlier one's expiry overlapped it.
    """
    check = Check("acknowledged orders exist, one holder at a time per race")
    for flow in flows:
        missing = [o for o in flow.winners if o not in snap.orders]
        if missing:
            check.violations.append(f"{flow.describe()}: orders has no {', '.join(missing)}")
        known = sorted((o for o in flow.winners if o in snap.orders), key=ObjectId)
        for earlier, later in itertools.pairwise(known):
            cancelled_early = earlier == flow.order_id and 204 in flow.answers.get("cancel", [])
            created = ObjectId(later).generation_time
            expires_at = snap.orders[earlier]["expires_at"]
            status = snap.orders[earlier]["status"]
            # A complete order holds its ticket for good.
            held = status == OrderStatus.COMPLETE or (
                not cancelled_early and created < expires_at - timedelta(seconds=1)
            )
            if held:
                check.violations.append(
                    f"{flow.describe()}: order {later} created {created:%H:%M:%S} while "
                    f"{earlier} ({status}, expiring {expires_at:%H:%M:%S}) held the ticket"
                )
    return check


def holders_agree(snap: Snapshot) -> Check:
    """tickets' ``order_id`` and orders' ``held_by`` both name the ticket's live order."""
    check = Check("each ticket's orderId is its live order")
    live = _live_by_ticket(snap)
    for ticket_id in sorted(snap.tickets):
        expected = live[ticket_id][0] if len(live.get(ticket_id, [])) == 1 else None
        said = snap.tickets[ticket_id].get("order_id")
        if said != expected:
            check.violations.append(
                f"ticket {ticket_id}: tickets says orderId {said}, live order is {expected}"
            )
        replica = snap.ticket_replicas.get(ticket_id)
        if replica is not None and replica.get("held_by") != expected:
            check.violations.append(
                f"ticket {ticket_id}: orders' replica held_by {replica.get('held_by')}, "
                f"live order is {expected}"
            )
    return check


def _differs(replica: Document, source: Document, fields: tuple[str, ...]) -> str:
    return ", ".join(
        f"{f} {replica.get(f)!r} vs {source.get(f)!r}"
        for f in fields
        if replica.get(f) != source.get(f)
    )


def replicas_converged(snap: Snapshot) -> Check:
    """Each replica is its source at the last version it has an event for.

    tickets publishes every change, so orders' copy must be the ticket itself. orders
    publishes ``order.created`` and ``order.cancelled`` but not completion: payments' copy
    of a complete order is the version before it, still ``created``.
    """
    check = Check("replicas equal their source")
    for ticket_id, ticket in sorted(snap.tickets.items()):
        replica = snap.ticket_replicas.get(ticket_id)
        if replica is None:
            check.violations.append(f"ticket {ticket_id}: orders has no replica")
        elif diff := _differs(replica, ticket, ("title", "price_cents", "version")):
            check.violations.append(f"ticket {ticket_id}: orders' replica vs tickets: {diff}")
    for order_id, order in sorted(snap.orders.items()):
        order_replica = snap.order_replicas.get(order_id)
        if order_replica is None:
            check.violations.append(f"order {order_id}: payments has no replica")
            continue
        heard = order
        if order["status"] == OrderStatus.COMPLETE:
            heard = {"status": "created", "version": order["version"] - 1}
        if diff := _differs(order_replica, heard, ("status", "version")):
            check.violations.append(
                f"order {order_id} ({order['status']} v{order['version']}): payments' replica "
                f"vs what orders published: {diff}"
            )
    return check


def money_at_stripe(snap: Snapshot) -> Check:
    check = Check("money: Stripe's view")
    if snap.at_stripe is None:
        check.skipped = "no Stripe emulator to ask"
        return check
    for order_id, order in sorted(snap.orders.items()):
        view = snap.at_stripe.get(order_id)
        if view is not None:
            check.violations.extend(money_violations(order["status"], view))
    return check


def payments_agree_with_stripe(snap: Snapshot) -> Check:
    """One payments record per succeeded intent, and its status is what Stripe says."""
    check = Check("money: payments' records agree with Stripe")
    if snap.at_stripe is None:
        check.skipped = "no Stripe emulator to ask"
        return check
    records = {doc["stripe_id"]: doc for doc in snap.payments}
    for order_id, view in sorted(snap.at_stripe.items()):
        for charge in view.charges:
            if charge.status != "succeeded":
                continue
            record = records.pop(charge.intent_id, None)
            at_stripe = "kept" if charge.kept else "refunded"
            if record is None:
                check.violations.append(
                    f"order {order_id}: Stripe {at_stripe} {charge.intent_id}; "
                    "payments has no record of it"
                )
            elif record["status"] != ("succeeded" if charge.kept else "refunded"):
                check.violations.append(
                    f"order {order_id}: {charge.intent_id} is {record['status']!r} in payments, "
                    f"{at_stripe} at Stripe"
                )
    for intent_id, record in sorted(records.items()):
        check.violations.append(
            f"order {record['order_id']}: payments records {intent_id} ({record['status']}), "
            "which took no money at Stripe"
        )
    return check


def no_overdue_orders(snap: Snapshot, overdue_s: float) -> Check:
    check = Check("no order still created past its expiry")
    late = timedelta(seconds=overdue_s)
    for order_id, order in sorted(snap.orders.items()):
        if order["status"] == "created" and order["expires_at"] + late < snap.now:
            check.violations.append(
                f"order {order_id}: created, expired at {order['expires_at']:%H:%M:%S}"
            )
    return check


def every_order_final(snap: Snapshot) -> Check:
    check = Check("every order complete or cancelled")
    for order_id, order in sorted(snap.orders.items()):
        if order["status"] not in FINAL:
            check.violations.append(f"order {order_id}: {order['status']}")
    return check


def outboxes_drained(snap: Snapshot) -> Check:
    check = Check("every outbox drained")
    for service, pending in sorted(snap.outbox_pending.items()):
        if pending:
            check.violations.append(f"{service}: {pending} events unpublished")
    return check


def nothing_parked(snap: Snapshot) -> Check:
    check = Check("no parked messages")
    for service, parked in sorted(snap.parked.items()):
        for message in parked:
            check.violations.append(
                f"{service}: {message.type} {message.message_id} parked ({message.reason}, "
                f"attempt {message.attempt}): {message.error[:200]}"
            )
    return check


def no_server_errors(timeline: Timeline) -> Check:
    check = Check("no 500s (nor unexplained 502/503/504)")
    for answer in timeline.server_errors():
        check.violations.append(
            f"+{answer.at_s:.1f}s {answer.method} {answer.route} answered {answer.status}"
        )
    return check


def flows_held(flows: list[FlowResult]) -> Check:
    check = Check("flows: a winner per race, acknowledged actions hold")
    for flow in flows:
        check.violations.extend(f"{flow.describe()}: {problem}" for problem in flow.problems)
    return check


def faults_recovered(timeline: Timeline) -> Check:
    check = Check("the stack recovered from every fault")
    for span in timeline.faults:
        if not span.happened and not span.skipped:
            check.violations.append(f"{span.name} at +{span.started_s:.1f}s: {span.detail}")
    return check


def quiescent(busy: list[str], timeout_s: float) -> Check:
    check = Check("quiescence reached")
    if busy:
        check.violations.append(f"still busy after {timeout_s:.0f}s: {'; '.join(busy)}")
    return check


def check_all(
    snap: Snapshot,
    flows: list[FlowResult],
    timeline: Timeline,
    *,
    overdue_s: float,
    busy: list[str],
    quiesce_timeout_s: float,
) -> list[Check]:
    on_snapshot: list[Callable[[Snapshot], Check]] = [
        one_live_order_per_ticket,
        holders_agree,
        replicas_converged,
        money_at_stripe,
        payments_agree_with_stripe,
        every_order_final,
        outboxes_drained,
        nothing_parked,
    ]
    return [
        quiescent(busy, quiesce_timeout_s),
        *(check(snap) for check in on_snapshot),
        race_winners(snap, flows),
        no_overdue_orders(snap, overdue_s),
        no_server_errors(timeline),
        flows_held(flows),
        faults_recovered(timeline),
    ]


def busy_reasons(snap: Snapshot) -> list[str]:
    """What keeps the stack from quiescence: open orders, refunds in flight, unpublished
    events, queued messages. Empty when it is quiet."""
    reasons: list[str] = []
    open_orders = [o for o, doc in snap.orders.items() if doc["status"] not in FINAL]
    if open_orders:
        reasons.append(f"{len(open_orders)} orders not final ({', '.join(open_orders[:3])}...)")
    refunding = [doc["stripe_id"] for doc in snap.payments if doc["status"] == "refunding"]
    if refunding:
        reasons.append(f"{len(refunding)} payments refunding")
    reasons += [f"outbox {s}: {n} pending" for s, n in snap.outbox_pending.items() if n]
    reasons += [f"queue {q}: {n} messages" for q, n in snap.queue_depths.items() if n]
    return reasons
