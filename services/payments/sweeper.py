"""The refund sweep: a background loop that runs for the life of the app."""

from __future__ import annotations

import asyncio
import logging

from services.payments import service

log = logging.getLogger(__name__)


async def retry_refunds_forever(deps: service.Deps, *, interval_s: float) -> None:
    """Make due refunds every ``interval_s``; an error is logged, never fatal.

    It is what keeps "refunded" true after Stripe was down when a refund was decided,
    or the process died between deciding it and making it.
    """
    while True:
        await asyncio.sleep(interval_s)
        try:
            await service.retry_refunds(deps=deps)
        except Exception:
            # MongoDB away: the next round tries again.
            log.exception("refund sweep failed")
