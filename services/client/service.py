"""client's use cases that take more than one API call."""

from __future__ import annotations

import asyncio
import logging

from services.client.domain import ActionRequired, Order, Payment, PaymentRecord
from services.client.ports import ApiUnavailable, PageNotFound, Rejected, SignInRequired, UserApis
from shared.events import OrderStatus

log = logging.getLogger(__name__)


async def pay_for_order(
    api: UserApis,
    order_id: str,
    token: str,
    *,
    return_url: str,
    idempotency_key: str | None,
    settle_timeout_s: float = 5.0,
    poll_interval_s: float = 0.1,
) -> Payment | ActionRequired | Rejected:
    """Pay for the order, then wait (briefly) for orders to mark it complete.

    Orders hears of the payment through an event, a moment after payments answers; the
    buyer goes to My Orders next, which should already say ``complete``. If it takes
    longer than ``settle_timeout_s`` the buyer goes anyway and sees it on a reload. Once
    payments has answered 201 the money is taken: no failure while waiting may hide that.
    A card that asks for 3-D Secure is ``ActionRequired``: nothing is taken yet.
    """
    payment = await api.pay(order_id, token, return_url=return_url, idempotency_key=idempotency_key)
    if isinstance(payment, Payment):
        await _seen_complete(api, order_id, payment, settle_timeout_s, poll_interval_s)
    return payment


async def confirm_payment(
    api: UserApis, order_id: str, *, settle_timeout_s: float = 5.0, poll_interval_s: float = 0.1
) -> Payment | ActionRequired | Rejected:
    """The buyer is back from the 3-D Secure challenge: payments settles what Stripe says
    (a failed challenge is Rejected with Stripe's message); then, as after paying, wait
    briefly for orders to mark the order complete."""
    payment = await api.confirm_payment(order_id)
    if isinstance(payment, Payment):
        await _seen_complete(api, order_id, payment, settle_timeout_s, poll_interval_s)
    return payment


async def _seen_complete(
    api: UserApis, order_id: str, payment: Payment, timeout_s: float, interval_s: float
) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                order = await api.show_order(order_id)
                if order.status is OrderStatus.COMPLETE:
                    break
                await asyncio.sleep(interval_s)
    except (TimeoutError, ApiUnavailable, PageNotFound, SignInRequired):
        log.warning("order %s paid (payment %s) but not seen complete yet", order_id, payment.id)


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
