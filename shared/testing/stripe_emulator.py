"""An offline Stripe API: the endpoints payments calls, in one process's memory.

It is driven through the real ``stripe`` SDK over HTTP (``base_addresses={"api": url}``),
so payments runs the same code path as against Stripe: form-encoded bodies
(``metadata[order_id]=...``), Stripe-shaped objects and errors (a decline is a 402
``card_error``, so the SDK raises ``stripe.CardError``), and ``Idempotency-Key`` replays.
Test payment methods and tokens behave as in Stripe's test mode: ``pm_card_visa`` and
``tok_visa`` succeed; ``pm_card_chargeDeclined`` and ``tok_chargeDeclined`` decline.

Endpoints: ``POST /v1/payment_methods`` (``card[token]``), ``POST /v1/payment_intents``,
``GET /v1/payment_intents/search`` (``metadata['key']:'value'`` only),
``GET /v1/payment_intents/{id}``, ``POST /v1/payment_intents/{id}/confirm`` and
``.../cancel``, ``POST /v1/refunds`` and ``GET /v1/refunds`` (by ``payment_intent``);
``/healthz`` and ``/readyz`` for the probes.

With ``STRIPE_WEBHOOK_URL`` set, a PaymentIntent that succeeds or fails is also posted there
as a signed ``payment_intent.succeeded`` / ``payment_intent.payment_failed`` event
(``STRIPE_WEBHOOK_SECRET``, default ``whsec_local_emulator``), as Stripe would: in the
background, and a delivery that fails (not 2xx, or nobody listening) is retried with
backoff (0.5 s doubling up to 10 s) for ``STRIPE_WEBHOOK_RETRY_SECONDS`` (default 600).

Faults, for fault injection (``tools.chaos``): ``POST /_emulator/faults`` with JSON
``{"error_rate": 0.0-1.0, "delay_ms": N, "seconds": N}`` makes that share of ``/v1/*``
calls, for that many seconds, stall ``delay_ms`` and then answer 500 ``api_error`` (as a
Stripe outage does; nothing is done and no idempotent response is stored).
``GET /_emulator/faults`` shows the current fault and how many calls it failed;
``DELETE /_emulator/faults`` ends it.

Run: ``python -m shared.testing.stripe_emulator [--host H] [--port P]`` (or ``HOST`` /
``PORT``; default 127.0.0.1:12111).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import random
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 12111
DEFAULT_WEBHOOK_SECRET = "whsec_local_emulator"
MIN_AMOUNT_CENTS = 50  # Stripe's smallest usd charge
# Stripe keeps keys for 24 hours; a bound on the count keeps a long `make up` small.
IDEMPOTENCY_KEYS_KEPT = 10_000
# Stripe retries a failed delivery for days; locally a bounded window is enough to ride out
# a payments process that is restarting, without retrying forever after a stack stops.
DEFAULT_WEBHOOK_RETRY_S = 600.0
WEBHOOK_FIRST_DELAY_S = 0.5
WEBHOOK_MAX_DELAY_S = 10.0
CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)

Params = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class TestCard:
    """How a test card behaves: its brand and last digits, and its decline, if any."""

    brand: str
    last4: str
    decline_code: str | None = None
    decline_message: str = "Your card was declined."


# Reachable as pm_card_<name> and tok_<name>, as in Stripe's test mode.
TEST_CARDS = {
    "visa": TestCard("visa", "4242"),
    "mastercard": TestCard("mastercard", "4444"),
    "amex": TestCard("amex", "8431"),
    "chargeDeclined": TestCard("visa", "0002", "generic_decline"),
    "chargeDeclinedInsufficientFunds": TestCard(
        "visa", "9995", "insufficient_funds", "Your card has insufficient funds."
    ),
}


class StripeError(Exception):
    """An error response in Stripe's shape: ``{"error": {"type", "message", ...}}``."""

    def __init__(self, status: int, error: Params) -> None:
        super().__init__(error.get("message", ""))
        self.status = status
        self.error = error


def invalid_request(
    message: str, *, param: str | None = None, code: str | None = None, status: int = 400
) -> StripeError:
    error: Params = {"type": "invalid_request_error", "message": message}
    if param is not None:
        error["param"] = param
    if code is not None:
        error["code"] = code
    return StripeError(status, error)


def no_such(kind: str, object_id: str, *, param: str | None = None) -> StripeError:
    """A missing object: 404 when it is named in the path, 400 when named by a parameter."""
    return invalid_request(
        f"No such {kind}: '{object_id}'",
        param=param,
        code="resource_missing",
        status=404 if param is None else 400,
    )


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def nest(pairs: Iterable[tuple[str, str]]) -> Params:
    """Form fields as the SDK encodes them, back into objects.

    ``metadata[order_id]=o1`` → ``{"metadata": {"order_id": "o1"}}``;
    ``payment_method_types[0]=card`` → ``{"payment_method_types": ["card"]}``.
    """
    root: Params = {}
    for key, value in pairs:
        path = re.findall(r"[^\[\]]+", key)
        if not path:
            continue
        node = root
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise invalid_request(f"Invalid object: {key}", param=path[0])
            node = child
        node[path[-1]] = value
    nested: Params = _as_lists(root)
    return nested


def _as_lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {key: _as_lists(value) for key, value in node.items()}
    if items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


def sign_webhook(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header: ``t=<unix time>,v1=<HMAC-SHA256 of "t.payload">``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(
        secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class Faults:
    """An injected outage: ``error_rate`` of /v1 calls stall ``delay_ms``, then answer 500."""

    error_rate: float = 0.0
    delay_ms: int = 0
    until: float = 0.0  # time.monotonic() when it ends

    def remaining_s(self) -> float:
        return max(self.until - time.monotonic(), 0.0)

    def strikes(self) -> bool:
        """Whether this call fails: the fault is on and the dice say so."""
        return self.remaining_s() > 0 and random.random() < self.error_rate


@dataclass(frozen=True)
class StoredResponse:
    """What a request with an ``Idempotency-Key`` got, and what it asked, for replays."""

    method: str
    path: str
    params: Params
    status: int
    text: str


class StripeEmulator:
    """The state (payment methods, intents, refunds, idempotent responses) and the rules.

    Every handler reads its parameters first and never awaits afterwards, so each
    request's read-modify-write runs whole on the event loop: asyncio-safe, no locks.
    """

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        webhook_retry_s: float = DEFAULT_WEBHOOK_RETRY_S,
        webhook_first_delay_s: float = WEBHOOK_FIRST_DELAY_S,
    ) -> None:
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.webhook_retry_s = webhook_retry_s
        self.webhook_first_delay_s = webhook_first_delay_s
        self.faults = Faults()
        self.faulted_calls = 0
        self.payment_methods: dict[str, Params] = {}
        self.cards: dict[str, TestCard] = {}
        self.intents: dict[str, Params] = {}
        self.refunds: dict[str, Params] = {}
        self.responses: OrderedDict[str, StoredResponse] = OrderedDict()
        self._deliveries: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None
        for name, card in TEST_CARDS.items():
            self._add_payment_method(f"pm_card_{name}", card)

    # ------------------------------------------------------------------ payment methods

    def _add_payment_method(self, pm_id: str, card: TestCard) -> Params:
        self.cards[pm_id] = card
        self.payment_methods[pm_id] = {
            "id": pm_id,
            "object": "payment_method",
            "type": "card",
            "card": {"brand": card.brand, "last4": card.last4, "exp_month": 12, "exp_year": 2034},
            "created": int(time.time()),
            "livemode": False,
            "metadata": {},
        }
        return self.payment_methods[pm_id]

    def _from_token(self, token: Any, param: str) -> Params:
        """A fresh PaymentMethod for a test token (Stripe mints one per use, too)."""
        if (
            not isinstance(token, str)
            or not token.startswith("tok_")
            or token[4:] not in TEST_CARDS
        ):
            raise no_such("token", str(token), param=param)
        return self._add_payment_method(new_id("pm"), TEST_CARDS[token[4:]])

    def create_payment_method(self, params: Params) -> Params:
        if params.get("type") != "card":
            raise invalid_request("The emulator only supports type=card", param="type")
        card = params.get("card")
        if not isinstance(card, dict) or "token" not in card:
            raise invalid_request(
                "The emulator takes test tokens only (card[token]=tok_visa)", param="card[token]"
            )
        return self._from_token(card["token"], "card[token]")

    def _payment_method_of(self, params: Params) -> str | None:
        """The PaymentMethod a create/confirm names: an id, or card token data to mint one."""
        pm_id = params.get("payment_method")
        if pm_id is not None:
            if pm_id not in self.payment_methods:
                raise no_such("PaymentMethod", str(pm_id), param="payment_method")
            return str(pm_id)
        data = params.get("payment_method_data")
        if isinstance(data, dict) and isinstance(data.get("card"), dict):
            token = data["card"].get("token")
            return str(self._from_token(token, "payment_method_data[card][token]")["id"])
        return None

    # ------------------------------------------------------------------ payment intents

    def intent(self, intent_id: str) -> Params:
        found = self.intents.get(intent_id)
        if found is None:
            raise no_such("payment_intent", intent_id)
        return found

    def create_intent(self, params: Params) -> Params:
        amount = _amount(params)
        currency = params.get("currency")
        if not currency:
            raise invalid_request(
                "Missing required param: currency.", param="currency", code="parameter_missing"
            )
        currency = str(currency).lower()
        if currency == "usd" and amount < MIN_AMOUNT_CENTS:
            raise invalid_request(
                "Amount must be at least $0.50 usd", param="amount", code="amount_too_small"
            )
        pm_id = self._payment_method_of(params)
        intent_id = new_id("pi")
        intent: Params = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0,
            "currency": currency,
            "status": "requires_confirmation" if pm_id else "requires_payment_method",
            "payment_method": pm_id,
            "payment_method_types": params.get("allowed_payment_method_types") or ["card"],
            "latest_charge": None,
            "last_payment_error": None,
            "metadata": params.get("metadata") or {},
            "description": params.get("description"),
            "capture_method": "automatic",
            "confirmation_method": "automatic",
            "client_secret": f"{intent_id}_secret_{secrets.token_hex(8)}",
            "canceled_at": None,
            "cancellation_reason": None,
            "created": int(time.time()),
            "livemode": False,
        }
        self.intents[intent_id] = intent
        if params.get("confirm") == "true":
            self._confirm(intent, pm_id)
        return intent

    def confirm_intent(self, intent_id: str, params: Params) -> Params:
        intent = self.intent(intent_id)
        self._confirm(intent, self._payment_method_of(params))
        return intent

    def _confirm(self, intent: Params, pm_id: str | None) -> None:
        status = intent["status"]
        if status not in ("requires_payment_method", "requires_confirmation"):
            reason = (
                "it has already succeeded after being previously confirmed"
                if status == "succeeded"
                else f"it has a status of {status}"
            )
            raise invalid_request(
                f"You cannot confirm this PaymentIntent because {reason}.",
                code="payment_intent_unexpected_state",
            )
        pm_id = pm_id or intent["payment_method"]
        if pm_id is None:
            raise invalid_request(
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                code="payment_intent_unexpected_state",
            )
        intent["payment_method"] = pm_id
        card = self.cards[pm_id]
        if card.decline_code is not None:
            error: Params = {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": card.decline_code,
                "message": card.decline_message,
                "payment_method": self.payment_methods[pm_id],
            }
            intent.update(status="requires_payment_method", last_payment_error=error)
            self._notify("payment_intent.payment_failed", intent)
            raise StripeError(402, {**error, "payment_intent": dict(intent)})
        intent.update(
            status="succeeded",
            amount_received=intent["amount"],
            latest_charge=new_id("ch"),
            last_payment_error=None,
        )
        self._notify("payment_intent.succeeded", intent)

    def cancel_intent(self, intent_id: str, params: Params) -> Params:
        intent = self.intent(intent_id)
        if intent["status"] not in CANCELABLE:
            raise invalid_request(
                "You cannot cancel this PaymentIntent because it has a status of "
                f"{intent['status']}. Only a PaymentIntent with one of the following statuses "
                f"may be canceled: {', '.join(CANCELABLE)}.",
                code="payment_intent_unexpected_state",
            )
        intent.update(
            status="canceled",
            canceled_at=int(time.time()),
            cancellation_reason=params.get("cancellation_reason"),
        )
        return intent

    def search_intents(self, params: Params) -> Params:
        query = str(params.get("query", ""))
        match = re.fullmatch(r"\s*metadata\['([^']+)'\]\s*:\s*'([^']*)'\s*", query)
        if match is None:
            raise invalid_request(
                "The emulator searches by one metadata['key']:'value' clause only",
                param="query",
            )
        key, value = match.groups()
        found = [i for i in self.intents.values() if i["metadata"].get(key) == value]
        return {
            "object": "search_result",
            "data": found,
            "has_more": False,
            "next_page": None,
            "url": "/v1/payment_intents/search",
        }

    # ------------------------------------------------------------------ refunds

    def create_refund(self, params: Params) -> Params:
        intent_id = params.get("payment_intent")
        if not intent_id:
            raise invalid_request(
                "Missing required param: payment_intent.",
                param="payment_intent",
                code="parameter_missing",
            )
        intent = self.intents.get(str(intent_id))
        if intent is None:
            raise no_such("payment_intent", str(intent_id), param="payment_intent")
        if intent["status"] != "succeeded":
            raise invalid_request(
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                param="payment_intent",
                code="charge_not_refundable",
            )
        refunded = sum(
            r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent_id
        )
        remaining = intent["amount"] - refunded
        if remaining == 0:
            raise invalid_request(
                f"Charge {intent['latest_charge']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = _amount(params, default=remaining)
        if amount > remaining:
            raise invalid_request(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                f"({remaining})",
                param="amount",
                code="amount_too_large",
            )
        refund: Params = {
            "id": new_id("re"),
            "object": "refund",
            "amount": amount,
            "charge": intent["latest_charge"],
            "currency": intent["currency"],
            "payment_intent": intent_id,
            "reason": params.get("reason"),
            "metadata": params.get("metadata") or {},
            "status": "succeeded",
            "created": int(time.time()),
        }
        self.refunds[refund["id"]] = refund
        return refund

    def list_refunds(self, params: Params) -> Params:
        intent_id = params.get("payment_intent")
        found = [
            r
            for r in self.refunds.values()
            if intent_id is None or r["payment_intent"] == intent_id
        ]
        return {"object": "list", "data": found, "has_more": False, "url": "/v1/refunds"}

    # ------------------------------------------------------------------ idempotency

    def replay(self, key: str, method: str, path: str, params: Params) -> StoredResponse | None:
        """The stored response for ``key``; an error if the key was used for another request."""
        stored = self.responses.get(key)
        if stored is None:
            return None
        if (stored.method, stored.path, stored.params) != (method, path, params):
            raise StripeError(
                400,
                {
                    "type": "idempotency_error",
                    "message": "Keys for idempotent requests can only be used with the same "
                    "parameters they were first used with. Try using a key other than "
                    f"'{key}' if you meant to execute a different request.",
                },
            )
        return stored

    def remember(self, key: str, response: StoredResponse) -> None:
        self.responses[key] = response
        while len(self.responses) > IDEMPOTENCY_KEYS_KEPT:
            self.responses.popitem(last=False)

    # ------------------------------------------------------------------ webhooks

    def _notify(self, event_type: str, intent: Params) -> None:
        if self.webhook_url is None:
            return
        event = {
            "id": new_id("evt"),
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "data": {"object": dict(intent)},
        }
        task = asyncio.create_task(self._deliver(event))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, event: Params) -> None:
        """Post ``event`` until it is taken (2xx) or ``webhook_retry_s`` has passed."""
        assert self.webhook_url is not None
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        payload = json.dumps(event)
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self.webhook_retry_s
        delay_s = self.webhook_first_delay_s
        attempt = 0
        while True:
            attempt += 1
            # Signed afresh each time: the receiver checks the timestamp's age.
            headers = {
                "Content-Type": "application/json",
                "Stripe-Signature": sign_webhook(payload, self.webhook_secret),
            }
            try:
                async with self._http.post(self.webhook_url, data=payload, headers=headers) as r:
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

    # ------------------------------------------------------------------ faults

    def inject(self, faults: Faults) -> None:
        self.faults = faults
        self.faulted_calls = 0
        log.warning(
            "fault injected: %.0f%% of calls stall %d ms and fail, for %.1fs",
            faults.error_rate * 100,
            faults.delay_ms,
            faults.remaining_s(),
        )

    def fault_state(self) -> Params:
        return {
            "error_rate": self.faults.error_rate,
            "delay_ms": self.faults.delay_ms,
            "remaining_s": round(self.faults.remaining_s(), 3),
            "faulted_calls": self.faulted_calls,
        }

    async def close(self) -> None:
        for task in list(self._deliveries):
            task.cancel()
        await asyncio.gather(*self._deliveries, return_exceptions=True)
        if self._http is not None:
            await self._http.close()


def _amount(params: Params, default: int | None = None) -> int:
    raw = params.get("amount")
    if raw is None:
        if default is not None:
            return default
        raise invalid_request(
            "Missing required param: amount.", param="amount", code="parameter_missing"
        )
    try:
        amount = int(raw)
    except (TypeError, ValueError):
        raise invalid_request(
            f"Invalid integer: {raw}", param="amount", code="parameter_invalid_integer"
        ) from None
    if amount < 1:
        raise invalid_request(
            "This value must be greater than or equal to 1.",
            param="amount",
            code="amount_too_small",
        )
    return amount


EMULATOR = web.AppKey("stripe_emulator", StripeEmulator)
PARAMS = web.RequestKey("stripe_params", Params)  # parsed once, by the middleware


def _error_response(exc: StripeError) -> web.Response:
    return web.json_response({"error": exc.error}, status=exc.status)


@web.middleware
async def stripe_api(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Auth, parameters, Stripe-shaped errors and ``Idempotency-Key`` replays for /v1."""
    if not request.path.startswith("/v1/"):
        return await handler(request)
    emulator = request.app[EMULATOR]
    if emulator.faults.strikes():
        emulator.faulted_calls += 1
        faults = emulator.faults
        await asyncio.sleep(faults.delay_ms / 1000)
        return _error_response(
            StripeError(500, {"type": "api_error", "message": "An injected fault (emulator)."})
        )
    try:
        authorization = request.headers.get("Authorization", "")
        if not authorization.startswith("Bearer ") or not authorization[7:].strip():
            raise invalid_request(
                "You did not provide an API key. Provide it in the Authorization header "
                "(Authorization: Bearer YOUR_SECRET_KEY).",
                status=401,
            )
        form = await request.post() if request.method == "POST" else request.query
        params = nest((key, str(value)) for key, value in form.items())
        key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        if key:
            stored = emulator.replay(key, request.method, request.path, params)
            if stored is not None:
                return web.Response(
                    text=stored.text,
                    status=stored.status,
                    content_type="application/json",
                    headers={"Idempotent-Replayed": "true"},
                )
    except StripeError as exc:
        return _error_response(exc)
    request[PARAMS] = params
    # From here on nothing awaits I/O: the replay check above, the handler and storing
    # its response run as one step, so two requests with one key never both execute.
    try:
        response = await handler(request)
    except StripeError as exc:
        response = _error_response(exc)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        response = _error_response(
            invalid_request(
                f"Unrecognized request URL ({request.method}: {request.path}).", status=404
            )
        )
    if key:
        assert isinstance(response, web.Response)
        assert response.text is not None
        emulator.remember(
            key,
            StoredResponse(request.method, request.path, params, response.status, response.text),
        )
    return response


routes = web.RouteTableDef()


@routes.get("/healthz")
@routes.get("/readyz")
async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _fault_request(body: Any) -> Faults:
    """The fault a ``POST /_emulator/faults`` body asks for; ValueError says what is wrong."""
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    error_rate, delay_ms, seconds = (
        body.get("error_rate", 1.0),
        body.get("delay_ms", 0),
        body.get("seconds"),
    )
    if not isinstance(error_rate, int | float) or not 0 <= error_rate <= 1:
        raise ValueError("error_rate must be a number from 0 to 1")
    if not isinstance(delay_ms, int) or isinstance(delay_ms, bool) or delay_ms < 0:
        raise ValueError("delay_ms must be a whole number >= 0")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
        raise ValueError("seconds must be a number > 0")
    return Faults(float(error_rate), delay_ms, time.monotonic() + seconds)


@routes.post("/_emulator/faults")
async def inject_faults(request: web.Request) -> web.Response:
    try:
        faults = _fault_request(await request.json())
    except ValueError as exc:  # json.JSONDecodeError is one
        return _error_response(invalid_request(str(exc)))
    emulator = request.app[EMULATOR]
    emulator.inject(faults)
    return web.json_response(emulator.fault_state())


@routes.get("/_emulator/faults")
async def show_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[EMULATOR].fault_state())


@routes.delete("/_emulator/faults")
async def clear_faults(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    state = emulator.fault_state()  # how many calls the ended fault failed
    emulator.faults = Faults()
    log.warning("faults cleared")
    return web.json_response(state)


@routes.post("/v1/payment_methods")
async def create_payment_method(request: web.Request) -> web.Response:
    return web.json_response(request.app[EMULATOR].create_payment_method(request[PARAMS]))


@routes.post("/v1/payment_intents")
async def create_payment_intent(request: web.Request) -> web.Response:
    return web.json_response(request.app[EMULATOR].create_intent(request[PARAMS]))


@routes.get("/v1/payment_intents/search")
async def search_payment_intents(request: web.Request) -> web.Response:
    return web.json_response(request.app[EMULATOR].search_intents(request[PARAMS]))


@routes.get("/v1/payment_intents/{id}")
async def retrieve_payment_intent(request: web.Request) -> web.Response:
    return web.json_response(request.app[EMULATOR].intent(request.match_info["id"]))


@routes.post("/v1/payment_intents/{id}/confirm")
async def confirm_payment_intent(request: web.Request) -> web.Response:
    return web.json_response(
        request.app[EMULATOR].confirm_intent(request.match_info["id"], request[PARAMS])
    )


@routes.post("/v1/payment_intents/{id}/cancel")
async def cancel_payment_intent(request: web.Request) -> web.Response:
    return web.json_response(
        request.app[EMULATOR].cancel_intent(request.match_info["id"], request[PARAMS])
    )


@routes.post("/v1/refunds")
async def create_refund(request: web.Request) -> web.Response:
    return web.json_response(request.app[EMULATOR].create_refund(request[PARAMS]))


@routes.get("/v1/refunds")
async def list_refunds(request: web.Request) -> web.Response:
    return web.json_response(request.app[EMULATOR].list_refunds(request[PARAMS]))


def create_emulator_app(
    *,
    webhook_url: str | None = None,
    webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
    webhook_retry_s: float = DEFAULT_WEBHOOK_RETRY_S,
    webhook_first_delay_s: float = WEBHOOK_FIRST_DELAY_S,
) -> web.Application:
    """The emulator as an aiohttp app (run it, or mount it in a test server)."""
    app = web.Application(middlewares=[stripe_api])
    app[EMULATOR] = StripeEmulator(
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        webhook_retry_s=webhook_retry_s,
        webhook_first_delay_s=webhook_first_delay_s,
    )
    app.add_routes(routes)

    async def close_emulator(app: web.Application) -> AsyncIterator[None]:
        yield
        await app[EMULATOR].close()

    app.cleanup_ctx.append(close_emulator)
    return app


@contextlib.contextmanager
def emulator_in_thread(host: str = DEFAULT_HOST, port: int = 0) -> Iterator[str]:
    """Serve the emulator from a thread of its own (a free port by default); its base URL."""
    loop = asyncio.new_event_loop()
    runner: web.AppRunner | None = None

    async def start() -> str:
        nonlocal runner
        runner = web.AppRunner(create_emulator_app())
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        return f"http://{bound_host}:{bound_port}"

    thread = threading.Thread(target=loop.run_forever, name="stripe-emulator", daemon=True)
    thread.start()
    try:
        yield asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    finally:
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default=os.environ.get("HOST", DEFAULT_HOST))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    app = create_emulator_app(
        webhook_url=os.environ.get("STRIPE_WEBHOOK_URL") or None,
        webhook_secret=os.environ.get("STRIPE_WEBHOOK_SECRET") or DEFAULT_WEBHOOK_SECRET,
        webhook_retry_s=float(
            os.environ.get("STRIPE_WEBHOOK_RETRY_SECONDS") or DEFAULT_WEBHOOK_RETRY_S
        ),
    )
    log.info("Stripe emulator on http://%s:%d", args.host, args.port)
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
