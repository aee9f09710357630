"""Stripe through the official SDK's async client: what payments asks of it, nothing more.

Every call that moves money carries an idempotency key derived from the order (or the
intent), so a retry, a crash and re-run, or two racing requests reuse one PaymentIntent
and one refund: Stripe itself makes charging twice impossible.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp
import stripe

from services.payments.config import StripeSettings
from services.payments.domain import CURRENCY, Intent, NextAction, StripeEvent
from services.payments.metrics import STRIPE_CALLS
from shared.errors import BadRequest, PaymentDeclined, ServiceUnavailable

log = logging.getLogger(__name__)

LEGACY_TOKEN_PREFIX = "tok_"
# Stripe.js's createConfirmationToken: the Payment Element's current way to hand the
# server what the buyer entered ("finalize payments on the server").
CONFIRMATION_TOKEN_PREFIX = "ctoken_"
# Confirms one charge makes at most: one, plus one per replayed challenge found over (a
# chain this long means something else is wrong; its last answer is then the answer).
CONFIRM_RETRIES = 5
# Stripe down, rate-limiting or failing: nothing the buyer did, worth a retry later.
_UNAVAILABLE = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)


class PaymentMethodRejected(BadRequest):
    """Stripe refused what the buyer sent (an unknown token, say); its message says why."""


class StripeUnavailable(ServiceUnavailable):
    default_message = "The payment provider is unavailable; try again"


class InvalidWebhook(BadRequest):
    default_message = "Invalid Stripe webhook signature or payload"


def _digest(token: str) -> str:
    # Idempotency keys stay short (Stripe takes 255 characters) whatever the token.
    return hashlib.sha256(token.encode()).hexdigest()[:24]


def _replayed(answer: stripe.StripeObject) -> bool:
    """Whether Stripe answered from an idempotency key's first request."""
    response = answer.last_response
    headers = response.headers.items() if response is not None else ()
    return any(name.lower() == "idempotent-replayed" and value == "true" for name, value in headers)


def _intent(data: Mapping[str, Any]) -> Intent:
    metadata = data.get("metadata") or {}
    error = data.get("last_payment_error") or {}
    return Intent(
        id=data["id"],
        order_id=metadata.get("order_id"),
        amount_cents=data["amount"],
        status=data["status"],
        currency=data.get("currency", ""),
        client_secret=data.get("client_secret"),
        next_action=_next_action(data.get("next_action")),
        error_message=error.get("message"),
    )


def _next_action(action: Mapping[str, Any] | None) -> NextAction | None:
    if not action:
        return None
    redirect = action.get("redirect_to_url") or {}
    return NextAction(type=str(action.get("type")), redirect_url=redirect.get("url"))


@contextmanager
def _buyer_errors() -> Iterator[None]:
    """Stripe's answers about the buyer's card as our errors; an outage as 503."""
    try:
        yield
    except stripe.CardError as exc:
        raise PaymentDeclined(exc.user_message or None) from None
    except stripe.InvalidRequestError as exc:
        if exc.param is None:
            raise  # not about what the buyer sent: our bug, a 500 with a traceback
        raise PaymentMethodRejected(exc.user_message or None) from None
    except _UNAVAILABLE as exc:
        raise StripeUnavailable() from exc


@contextmanager
def _counted(operation: str) -> Iterator[None]:
    """Count the call in ``stripe_calls_total`` by how it ended."""
    outcome = "error"
    try:
        yield
        outcome = "ok"
    except PaymentDeclined:
        outcome = "declined"
        raise
    except PaymentMethodRejected:
        outcome = "rejected"
        raise
    except StripeUnavailable:
        outcome = "unavailable"
        raise
    finally:
        STRIPE_CALLS.labels(operation, outcome).inc()


class StripeGateway:
    """Charges, refunds and webhook verification for payments."""

    def __init__(self, client: stripe.StripeClient, webhook_secret: str) -> None:
        self._client = client
        self._webhook_secret = webhook_secret

    async def charge(
        self,
        order_id: str,
        amount_cents: int,
        token: str,
        *,
        return_url: str | None = None,
        attempt: str | None = None,
    ) -> Intent:
        """The order's PaymentIntent, confirmed with ``token``; a decline is PaymentDeclined.

        One PaymentIntent per order (the create key is the order's): a racing request
        with another card finds it confirmed already and gets its outcome. A card that
        wants 3-D Secure leaves it ``requires_action``: with a ConfirmationToken (the
        browser has Stripe.js) for ``stripe.handleNextAction``, else a redirect to the
        challenge and back to ``return_url``. The confirm key is the request's (token,
        return URL and the buyer's own key): a repeat replays it, a new try after a
        failed challenge gets a new one (``_confirm``), with or without the buyer's key.
        """
        with _counted("charge"), _buyer_errors():
            created = await self._create(order_id, amount_cents)
            params: stripe.params.PaymentIntentConfirmParams = {}
            if token.startswith(CONFIRMATION_TOKEN_PREFIX):
                params["confirmation_token"] = token
            else:
                params["payment_method"] = await self._payment_method(order_id, token)
            if return_url is not None:
                params["return_url"] = return_url
            request = (
                token
                if return_url is None and attempt is None
                else (f"{token}\n{return_url}\n{attempt}")
            )
            confirmed = await self._confirm(order_id, created.id, params, request)
        intent = _intent(confirmed.to_dict())
        log.info("order %s: payment intent %s is %s", order_id, intent.id, intent.status)
        return intent

    async def _confirm(
        self,
        order_id: str,
        intent_id: str,
        params: stripe.params.PaymentIntentConfirmParams,
        request: str,
    ) -> stripe.PaymentIntent:
        """The confirm of ``request``, under a key of its own; a replayed challenge that is
        over by now is not the answer.

        Stripe replays a repeated key's first answer. The same card and return URL without
        the buyer's key after a failed (or passed) challenge would so get the old
        ``requires_action``, pointing at a challenge nobody can answer any more. Such a
        replay is confirmed again under a key named after that dead challenge: each
        challenge is new, so each retry after one gets a confirm of its own, and a repeat
        of that retry finds the same chain of keys (and its live challenge) again.
        """
        intents = self._client.v1.payment_intents
        chain = request
        confirmed: stripe.PaymentIntent | None = None
        for _ in range(CONFIRM_RETRIES):
            key = f"order-{order_id}-confirm-{_digest(chain)}"
            try:
                confirmed = await intents.confirm_async(
                    intent_id, params=params, options={"idempotency_key": key}
                )
            except stripe.InvalidRequestError as exc:
                if exc.code != "payment_intent_unexpected_state":
                    raise
                return await intents.retrieve_async(intent_id)
            if not (_replayed(confirmed) and confirmed.status == "requires_action"):
                return confirmed
            challenge = confirmed.to_dict().get("next_action")
            current = await intents.retrieve_async(intent_id)
            if current.status == "requires_action" and current.to_dict().get("next_action") == (
                challenge
            ):
                return current  # the replayed challenge is the one waiting: answer it
            chain = f"{chain}\n{json.dumps(challenge, sort_keys=True)}"
        assert confirmed is not None
        return confirmed

    async def intent_of_order(self, order_id: str, amount_cents: int) -> Intent:
        """The order's PaymentIntent now: its create call again (Stripe replays it under the
        order's key: the same intent), then the intent as it is."""
        with _counted("confirm"), _buyer_errors():
            created = await self._create(order_id, amount_cents)
            current = await self._client.v1.payment_intents.retrieve_async(created.id)
        intent = _intent(current.to_dict())
        log.info("order %s: payment intent %s is %s", order_id, intent.id, intent.status)
        return intent

    async def _create(self, order_id: str, amount_cents: int) -> stripe.PaymentIntent:
        return await self._client.v1.payment_intents.create_async(
            params={
                "amount": amount_cents,
                "currency": CURRENCY,
                "allowed_payment_method_types": ["card"],
                "metadata": {"order_id": order_id},
            },
            options={"idempotency_key": f"order-{order_id}-intent"},
        )

    async def _payment_method(self, order_id: str, token: str) -> str:
        """A PaymentMethod id: ``token`` itself, or one made from a legacy card token."""
        if not token.startswith(LEGACY_TOKEN_PREFIX):
            return token
        method = await self._client.v1.payment_methods.create_async(
            params={"type": "card", "card": {"token": token}},
            options={"idempotency_key": f"order-{order_id}-method-{_digest(token)}"},
        )
        return method.id

    async def refund(self, intent_id: str) -> str:
        """Give back all the intent took; the id of the refund (the same one on a repeat).

        Stripe forgets idempotency keys after a day, so a repeat after that is told the
        charge is refunded already: the refund it made then is the answer.
        """
        refunds = self._client.v1.refunds
        with _counted("refund"):
            try:
                try:
                    refund = await refunds.create_async(
                        params={"payment_intent": intent_id},
                        options={"idempotency_key": f"refund-{intent_id}"},
                    )
                except stripe.InvalidRequestError as exc:
                    if exc.code != "charge_already_refunded":
                        raise
                    earlier = await refunds.list_async(params={"payment_intent": intent_id})
                    refund = next(r for r in earlier.data if r.status == "succeeded")
            except _UNAVAILABLE as exc:
                raise StripeUnavailable() from exc
        log.info("payment intent %s refunded (%s)", intent_id, refund.id)
        return str(refund.id)

    def parse_webhook(self, payload: bytes, signature: str | None) -> StripeEvent:
        """The event in a webhook request, once its ``Stripe-Signature`` checks out."""
        try:
            stripe.WebhookSignature.verify_header(
                payload.decode(),
                signature,
                self._webhook_secret,
                tolerance=stripe.Webhook.DEFAULT_TOLERANCE,
            )
            event = json.loads(payload)
            data = event["data"]["object"]
            intent = _intent(data) if data.get("object") == "payment_intent" else None
            created = event.get("created")
            return StripeEvent(
                id=event["id"],
                type=event["type"],
                intent=intent,
                created_at=datetime.fromtimestamp(created, UTC)
                if isinstance(created, int)
                else None,
            )
        except (
            stripe.SignatureVerificationError,
            ValueError,
            LookupError,
            TypeError,
            AttributeError,
        ):
            raise InvalidWebhook() from None


@asynccontextmanager
async def open_stripe(settings: StripeSettings) -> AsyncIterator[StripeGateway]:
    """The SDK's async client on an HTTP session made in the running loop, closed on exit."""
    session = aiohttp.ClientSession()
    client = stripe.StripeClient(
        settings.secret_key,
        base_addresses={"api": settings.api_base} if settings.api_base else {},
        http_client=stripe.AIOHTTPClient(
            session=session, timeout=aiohttp.ClientTimeout(total=settings.timeout_s)
        ),
        max_network_retries=settings.max_network_retries,
    )
    log.info("stripe at %s", settings.api_base or "api.stripe.com")
    try:
        yield StripeGateway(client, settings.webhook_secret)
    finally:
        await session.close()
