"""Prometheus metrics every service shares: HTTP, events, the outbox.

Metrics live in prometheus-client's process-wide registry (one service per process);
``GET /metrics`` on every app serves them. Service-specific metrics (expiration jobs,
Stripe calls) are declared next to the code that counts them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests handled, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to handle an HTTP request, by route template and method.",
    ["route", "method"],
)
EVENTS_PUBLISHED = Counter(
    "events_published",
    "Events (and retry or parked copies) the broker confirmed, by routing key.",
    ["event"],
)
EVENTS_CONSUMED = Counter(
    "events_consumed",
    "Deliveries settled, by routing key and outcome (acked, retried, parked, requeued).",
    ["event", "outcome"],
)
OUTBOX_BACKLOG = Gauge(
    "outbox_backlog", "Outbox entries written but not yet published (refreshed every sweep)."
)
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_age_seconds", "Age of the oldest unpublished outbox entry (0 when none)."
)
