"""The money invariant, checked against Stripe's own view (the emulator's or Stripe's).

Every order ends ``complete`` with exactly one succeeded PaymentIntent that is not
refunded (any other succeeded one refunded in full), or ``cancelled`` with every
succeeded PaymentIntent refunded in full. Tests and the fault-injection tool state it
with ``money_violations``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import stripe

SUCCEEDED = "succeeded"


@dataclass(frozen=True)
class Charge:
    """One PaymentIntent of an order, and how much of it Stripe has given back."""

    intent_id: str
    status: str
    amount_cents: int
    refunded_cents: int = 0

    @property
    def kept(self) -> bool:
        return self.status == SUCCEEDED and self.refunded_cents == 0

    @property
    def given_back(self) -> bool:
        return self.status != SUCCEEDED or self.refunded_cents == self.amount_cents


@dataclass(frozen=True)
class AtStripe:
    order_id: str
    charges: list[Charge] = field(default_factory=list)

    @property
    def kept(self) -> list[Charge]:
        return [c for c in self.charges if c.kept]


async def at_stripe(client: stripe.StripeClient, order_id: str) -> AtStripe:
    """Every PaymentIntent Stripe holds for the order (by its metadata), with its refunds."""
    found = await client.v1.payment_intents.search_async(
        params={"query": f"metadata['order_id']:'{order_id}'"}
    )
    charges = []
    for intent in found.data:
        refunds = await client.v1.refunds.list_async(params={"payment_intent": intent.id})
        refunded = sum(r.amount for r in refunds.data if r.status == SUCCEEDED)
        charges.append(Charge(intent.id, intent.status, intent.amount, refunded))
    return AtStripe(order_id, charges)


def money_violations(order_status: str, stripe_view: AtStripe) -> list[str]:
    """What breaks the money invariant for an order in ``order_status``; empty when none."""
    order = stripe_view.order_id
    problems = [
        f"order {order}: {c.intent_id} refunded {c.refunded_cents} of {c.amount_cents} cents"
        for c in stripe_view.charges
        if c.status == SUCCEEDED and not c.kept and not c.given_back
    ]
    kept = [c.intent_id for c in stripe_view.kept]
    if order_status == "complete" and len(kept) != 1:
        problems.append(f"order {order} is complete with {len(kept)} kept charges {kept}")
    elif order_status == "cancelled" and kept:
        problems.append(f"order {order} is cancelled but keeps {kept}")
    elif order_status not in ("complete", "cancelled"):
        problems.append(f"order {order} is still {order_status}")
    return problems
