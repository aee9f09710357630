"""expiration's Prometheus metrics (served with the shared ones on ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EXPIRY_JOBS = Counter(
    "expiration_jobs",
    "Expiry jobs by outcome: enqueued, duplicate (the order already had one), fired.",
    ["outcome"],
)
# Fine buckets where the target is (p99 <= 250 ms), coarse ones for a broker outage.
EXPIRY_LATENESS = Histogram(
    "expiration_lateness_seconds",
    "How long after the order's expiresAt its expiration.complete was confirmed.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
