"""The rules of an order's expiry. No I/O here."""

from __future__ import annotations


def expiry_job_id(order_id: str) -> str:
    """One id per order: the job's (so an order can never hold two expiry jobs) and the
    message id of its ``expiration.complete`` (the same on every try)."""
    return f"expire:{order_id}"
