"""payments' Prometheus metrics (served with the shared ones on ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter

STRIPE_CALLS = Counter(
    "stripe_calls",
    "Charges, confirmations after a 3-D Secure challenge (reading the order's intent) and "
    "refunds asked of Stripe, by outcome: ok, declined, rejected (bad payment method), "
    "unavailable (Stripe down or rate-limiting), error.",
    ["operation", "outcome"],
)

UNMATCHED_WEBHOOKS = Counter(
    "stripe_webhooks_unmatched",
    "Stripe payment events acknowledged for an order still unknown long after the event "
    "(UNMATCHED_WEBHOOK_AFTER); their money is refunded.",
)
