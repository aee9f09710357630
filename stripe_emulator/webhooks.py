"""Webhooks as Stripe sends them: signed events, posted in the background, retried."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time

import aiohttp

from stripe_emulator.errors import Params

log = logging.getLogger(__name__)

DEFAULT_WEBHOOK_SECRET = "whsec_local_emulator"
# Stripe retries a failed delivery for days; locally a bounded window is enough to ride out
# a payments process that is restarting, without retrying forever after a stack stops.
DEFAULT_WEBHOOK_RETRY_S = 600.0
WEBHOOK_FIRST_DELAY_S = 0.5
WEBHOOK_MAX_DELAY_S = 10.0


def sign_webhook(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header: ``t=<unix time>,v1=<HMAC-SHA256 of "t.payload">``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(
        secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


def event_of(event_type: str, obj: Params) -> Params:
    """A Stripe event carrying a copy of ``obj`` as it is now."""
    return {
        "id": f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "data": {"object": dict(obj)},
    }


class WebhookSender:
    """Posts events to one URL, each in a task of its own, until taken or out of time."""

    def __init__(
        self,
        url: str,
        *,
        secret: str = DEFAULT_WEBHOOK_SECRET,
        retry_s: float = DEFAULT_WEBHOOK_RETRY_S,
        first_delay_s: float = WEBHOOK_FIRST_DELAY_S,
    ) -> None:
        self.url = url
        self.secret = secret
        self.retry_s = retry_s
        self.first_delay_s = first_delay_s
        self.deliveries: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None

    def send(self, event_type: str, obj: Params) -> None:
        """Start delivering; the caller (an API request) does not wait for the receiver."""
        task = asyncio.create_task(self._deliver(event_of(event_type, obj)))
        self.deliveries.add(task)
        task.add_done_callback(self.deliveries.discard)

    async def _deliver(self, event: Params) -> None:
        """Post ``event`` until it is taken (2xx) or ``retry_s`` has passed."""
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        payload = json.dumps(event)
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self.retry_s
        delay_s = self.first_delay_s
        attempt = 0
        while True:
            attempt += 1
            # Signed afresh each time: the receiver checks the timestamp's age.
            headers = {
                "Content-Type": "application/json",
                "Stripe-Signature": sign_webhook(payload, self.secret),
            }
            try:
                async with self._http.post(self.url, data=payload, headers=headers) as r:
                    if r.status < 300:
                        log.info("webhook %s %s delivered", event["type"], event["id"])
                        return
                    problem = f"HTTP {r.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = repr(exc)
            if loop.time() + delay_s > give_up_at:
                log.error(
                    "webhook %s given up after %d attempts: %s", event["id"], attempt, problem
                )
                return
            log.warning(
                "webhook %s attempt %d failed (%s); again in %.1fs",
                event["id"],
                attempt,
                problem,
                delay_s,
            )
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, WEBHOOK_MAX_DELAY_S)

    async def close(self) -> None:
        for task in list(self.deliveries):
            task.cancel()
        await asyncio.gather(*self.deliveries, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
