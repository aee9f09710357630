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
EVENT_LOG_ENTRIES = Gauge(
    "event_log_entries",
    "Entries in the event log, first to last chunk (refreshed by whoever reads the log's ends).",
)
EVENT_LOG_OLDEST_TIMESTAMP = Gauge(
    "event_log_oldest_timestamp_seconds",
    "Publish time (Unix seconds) of the event log's oldest entry; 0 while it is empty.",
)
EVENT_LOG_REPLAYED = Counter(
    "event_log_replayed",
    "Events a replay read from the log, by service and outcome "
    "(applied, duplicate, deferred, skipped, counted: a dry run's).",
    ["service", "outcome"],
)
REBUILD_RUNNING = Gauge(
    "rebuild_running",
    "Replicas of this service being rebuilt now (refreshed whenever /readyz asks).",
)
REBUILD_RECEIVED = Counter(
    "rebuild_snapshots_taken",
    "Snapshots this service's listeners took (or found not newer) for a rebuild of theirs.",
)
REBUILD_EXPECTED = Gauge(
    "rebuild_snapshots_expected",
    "How many snapshots the owner published for this service's latest rebuild.",
)
