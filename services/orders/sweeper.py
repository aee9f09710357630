"""The overdue-order sweep: a background loop that runs for the life of the app."""

from __future__ import annotations

import asyncio
import logging

from services.orders import service

log = logging.getLogger(__name__)


async def sweep_forever(deps: service.Deps, *, interval_s: float, grace_s: float) -> None:
    """Cancel overdue orders every ``interval_s``; an error is logged, never fatal."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await service.cancel_overdue(deps=deps, grace_s=grace_s)
        except Exception:
            # MongoDB away or a conflict storm: the next round tries again.
            log.exception("overdue-order sweep failed")
