"""client's use cases that take more than one API call."""

from __future__ import annotations

import asyncio
import logging

from services.client.domain import Order, Payment, PaymentRecord
from services.client.ports import ApiUnavailable, PageNotFound, Rejected, SignInRequired, UserApis
from shared.events import OrderStatus

log = logging.getLogger(__name__)


async def pay_for_order(
    api: UserApis,
    order_id: str,
    token: str,
    *,
    idempotency_key: str | None,
    settle_timeout_s: float = 5.0,
    poll_interval_s: float = 0.1,
) -> Payment | Rejected:
    """Pay for the order, then wait (briefly) for orders to mark it complete.

    Orders hears of the payment through an event, a moment after payments answers; the
    buyer goes to My Orders next, which should already say ``complete``. If it takes
    longer than ``settle_timeout_s`` the buyer goes anyway and sees it on a reload. Once
    payments has answered 201 the money is taken: no failure while waiting may hide that.
    """
    payment = await api.pay(order_id, token, idempotency_key=idempotency_key)
    if isinstance(payment, Rejected):
        return payment
    try:
        async with asyncio.timeout(settle_timeout_s):
            while True:
                order = await api.show_order(order_id)
                if order.status is OrderStatus.COMPLETE:
                    break
                await asyncio.sleep(poll_interval_s)
    except (TimeoutError, ApiUnavailable, PageNotFound, SignInRequired):
        log.warning("order %s paid (payment %s) but not seen complete yet", order_id, payment.id)
    return payment


async def payments_shown(api: UserApis, order: Order) -> list[PaymentRecord] | None:
    """The order's payments for its page, once the order is complete or cancelled (an open
    one shows its pay form instead; no call to payments for it). None when payments does
    not answer, so the rest of the page still shows."""
    if not order.is_over:
        return None
    try:
        return await api.payments_of(order.id)
    except ApiUnavailable as exc:
        log.warning("payments of order %s not shown: %s", order.id, exc)
        return None
