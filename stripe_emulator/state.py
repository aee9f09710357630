"""The emulator's state and rules: payment methods, intents, refunds, idempotent responses.

Stripe's state machine for the calls payments makes, in memory; the HTTP app (``app``) only
decodes requests and encodes what these methods return or raise.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from stripe_emulator.errors import Params, StripeError, invalid_request, no_such
from stripe_emulator.faults import Faults
from stripe_emulator.webhooks import WebhookSender

log = logging.getLogger(__name__)

MIN_AMOUNT_CENTS = 50  # Stripe's smallest usd charge
# Stripe keeps keys for 24 hours; a bound on the count keeps a long `make up` small.
IDEMPOTENCY_KEYS_KEPT = 10_000
CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)


AUTHENTICATION_FAILED = (
    "We are unable to authenticate your payment method. Please choose a different payment "
    "method and try again."
)


@dataclass(frozen=True)
class TestCard:
    """How a test card behaves: its brand and last digits, its decline, if any, and
    whether every payment with it needs a 3-D Secure challenge (``challenge``)."""

    brand: str
    last4: str
    decline_code: str | None = None
    decline_message: str = "Your card was declined."
    challenge: bool = False


# Reachable as pm_card_<name> and tok_<name>, as in Stripe's test mode.
TEST_CARDS = {
    "visa": TestCard("visa", "4242"),
    "mastercard": TestCard("mastercard", "4444"),
    "amex": TestCard("amex", "8431"),
    "chargeDeclined": TestCard("visa", "0002", "generic_decline"),
    "chargeDeclinedInsufficientFunds": TestCard(
        "visa", "9995", "insufficient_funds", "Your card has insufficient funds."
    ),
    # 3-D Secure 2: the payment waits in requires_action until the buyer passes the challenge.
    "threeDSecure2Required": TestCard("visa", "3184", challenge=True),
}
# Stripe's test card numbers, for the Payment Element stand-in (``stripe_js``), which
# sends the number typed (Stripe.js sends it to Stripe, never to the merchant).
CARD_NUMBERS = {
    "4242424242424242": "visa",
    "5555555555554444": "mastercard",
    "371449635398431": "amex",
    "4000000000000002": "chargeDeclined",
    "4000000000009995": "chargeDeclinedInsufficientFunds",
    "4000002760003184": "threeDSecure2Required",
}


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


@dataclass(frozen=True)
class StoredResponse:
    """What a request with an ``Idempotency-Key`` got, and what it asked, for replays."""

    method: str
    path: str
    params: Params
    status: int
    text: str


@dataclass(frozen=True)
class Challenge:
    """An open 3-D Secure challenge of an intent: its id (in its URL, so only the one the
    intent was given can answer it) and where the buyer goes back to afterwards."""

    id: str
    url: str
    return_url: str | None


class StripeEmulator:
    """The state (payment methods, intents, refunds, idempotent responses) and the rules.

    Every handler reads its parameters first and never awaits afterwards, so each
    request's read-modify-write runs whole on the event loop: asyncio-safe, no locks.
    """

    def __init__(
        self, *, webhooks: WebhookSender | None = None, public_url: str | None = None
    ) -> None:
        self.webhooks = webhooks  # None: nobody to tell (STRIPE_WEBHOOK_URL unset)
        # Where a browser reaches us, for challenge pages; None: the address each request used.
        self.public_url = public_url
        self.faults = Faults()
        self.faulted_calls = 0
        self.payment_methods: dict[str, Params] = {}
        self.cards: dict[str, TestCard] = {}
        self.intents: dict[str, Params] = {}
        self.refunds: dict[str, Params] = {}
        self.confirmation_tokens: dict[str, Params] = {}
        self.challenges: dict[str, Challenge] = {}  # by intent id
        self.responses: OrderedDict[str, StoredResponse] = OrderedDict()
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

    def _card_of(self, data: Any, param: str) -> Params:
        """A fresh PaymentMethod for ``payment_method_data``: a test token or card number."""
        card = data.get("card") if isinstance(data, dict) else None
        if not isinstance(card, dict):
            raise invalid_request("Missing required param: card.", param=f"{param}[card]")
        if "token" in card:
            return self._from_token(card["token"], f"{param}[card][token]")
        number = str(card.get("number", "")).replace(" ", "")
        if number not in CARD_NUMBERS:
            raise StripeError(
                402,
                {
                    "type": "card_error",
                    "code": "incorrect_number",
                    "param": f"{param}[card][number]",
                    "message": "Your card number is incorrect (the emulator knows Stripe's "
                    "test cards only).",
                },
            )
        return self._add_payment_method(new_id("pm"), TEST_CARDS[CARD_NUMBERS[number]])

    # ------------------------------------------------------------------ confirmation tokens

    def create_confirmation_token(self, params: Params) -> Params:
        """A ConfirmationToken: what the Payment Element collected, for the server to confirm
        with (Stripe.js makes one with the publishable key; the test helper from a
        PaymentMethod id)."""
        pm_id = params.get("payment_method")
        if pm_id is not None:
            if pm_id not in self.payment_methods:
                raise no_such("PaymentMethod", str(pm_id), param="payment_method")
            method = self.payment_methods[str(pm_id)]
        else:
            method = self._card_of(params.get("payment_method_data"), "payment_method_data")
        token: Params = {
            "id": new_id("ctoken"),
            "object": "confirmation_token",
            "payment_method": method["id"],  # the emulator's own; Stripe shows a preview only
            "payment_method_preview": {"type": "card", "card": method["card"]},
            "return_url": params.get("return_url"),
            "use_stripe_sdk": True,
            "created": int(time.time()),
            "expires_at": int(time.time()) + 12 * 3600,
            "livemode": False,
        }
        self.confirmation_tokens[token["id"]] = token
        return token

    def _payment_method_of(self, params: Params) -> str | None:
        """The PaymentMethod a create/confirm names: an id, a ConfirmationToken, or card
        token data to mint one."""
        ctoken = params.get("confirmation_token")
        if ctoken is not None:
            if ctoken not in self.confirmation_tokens:
                raise no_such("confirmation_token", str(ctoken), param="confirmation_token")
            return str(self.confirmation_tokens[str(ctoken)]["payment_method"])
        pm_id = params.get("payment_method")
        if pm_id is not None:
            if pm_id not in self.payment_methods:
                raise no_such("PaymentMethod", str(pm_id), param="payment_method")
            return str(pm_id)
        data = params.get("payment_method_data")
        if isinstance(data, dict) and isinstance(data.get("card"), dict):
            return str(self._card_of(data, "payment_method_data")["id"])
        return None

    # ------------------------------------------------------------------ payment intents

    def intent(self, intent_id: str) -> Params:
        found = self.intents.get(intent_id)
        if found is None:
            raise no_such("payment_intent", intent_id)
        return found

    def create_intent(self, params: Params, *, origin: str = "") -> Params:
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
            "next_action": None,
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
            self._confirm(intent, pm_id, params, origin)
        return intent

    def confirm_intent(self, intent_id: str, params: Params, *, origin: str = "") -> Params:
        intent = self.intent(intent_id)
        self._confirm(intent, self._payment_method_of(params), params, origin)
        return intent

    def _confirm(self, intent: Params, pm_id: str | None, params: Params, origin: str) -> None:
        status = intent["status"]
        # As at Stripe, an intent waiting for its challenge may be confirmed again (another
        # card, or the same one): the open challenge is dropped.
        if status not in ("requires_payment_method", "requires_confirmation", "requires_action"):
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
        self.challenges.pop(intent["id"], None)
        intent["next_action"] = None
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
        if card.challenge:
            self._challenge(intent, params, origin)
            return
        self._succeed(intent)

    def _succeed(self, intent: Params) -> None:
        intent.update(
            status="succeeded",
            amount_received=intent["amount"],
            latest_charge=new_id("ch"),
            last_payment_error=None,
            next_action=None,
        )
        self._notify("payment_intent.succeeded", intent)

    # ------------------------------------------------------------------ 3-D Secure

    def _challenge(self, intent: Params, params: Params, origin: str) -> None:
        """Wait for the buyer: ``requires_action`` with the challenge as ``next_action``.

        ``redirect_to_url`` when the server confirmed with a ``return_url`` (the buyer's
        browser goes to the challenge and comes back there); ``use_stripe_sdk`` when
        Stripe.js will show it (``use_stripe_sdk=true``, a ConfirmationToken, or no
        ``return_url``), as Stripe answers.
        """
        ctoken = self.confirmation_tokens.get(str(params.get("confirmation_token")))
        return_url = params.get("return_url") or (ctoken or {}).get("return_url")
        challenge_id = new_id("3ds")
        base = self.public_url or origin
        url = f"{base}/_emulator/3ds/{intent['id']}/{challenge_id}"
        self.challenges[intent["id"]] = Challenge(challenge_id, url, return_url)
        if return_url and params.get("use_stripe_sdk") != "true" and ctoken is None:
            next_action: Params = {
                "type": "redirect_to_url",
                "redirect_to_url": {"url": url, "return_url": return_url},
            }
        else:
            next_action = {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": url},
            }
        intent.update(status="requires_action", next_action=next_action, last_payment_error=None)
        self._notify("payment_intent.requires_action", intent)

    def open_challenge(self, intent_id: str, challenge_id: str) -> tuple[Params, Challenge]:
        """The intent and its challenge, if ``challenge_id`` is the one still open."""
        intent = self.intent(intent_id)
        challenge = self.challenges.get(intent_id)
        if (
            challenge is None
            or challenge.id != challenge_id
            or intent["status"] != "requires_action"
        ):
            raise invalid_request(
                "This 3D Secure challenge is no longer open.",
                code="payment_intent_unexpected_state",
            )
        return intent, challenge

    def answer_challenge(self, intent_id: str, challenge_id: str, *, passed: bool) -> Challenge:
        """The buyer passed (the intent succeeds) or failed the challenge (it needs another
        payment method, with ``last_payment_error`` saying why); each once."""
        intent, challenge = self.open_challenge(intent_id, challenge_id)
        del self.challenges[intent_id]
        if passed:
            self._succeed(intent)
            return challenge
        pm_id = intent["payment_method"]
        intent.update(
            status="requires_payment_method",
            next_action=None,
            last_payment_error={
                "type": "card_error",
                "code": "payment_intent_authentication_failure",
                "message": AUTHENTICATION_FAILED,
                "payment_method": self.payment_methods[pm_id],
            },
        )
        self._notify("payment_intent.payment_failed", intent)
        return challenge

    def cancel_intent(self, intent_id: str, params: Params) -> Params:
        intent = self.intent(intent_id)
        if intent["status"] not in CANCELABLE:
            raise invalid_request(
                "You cannot cancel this PaymentIntent because it has a status of "
                f"{intent['status']}. Only a PaymentIntent with one of the following statuses "
                f"may be canceled: {', '.join(CANCELABLE)}.",
                code="payment_intent_unexpected_state",
            )
        self.challenges.pop(intent_id, None)
        intent.update(
            status="canceled",
            next_action=None,
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

    # ------------------------------------------------------------------ webhooks

    def _notify(self, event_type: str, intent: Params) -> None:
        if self.webhooks is not None:
            self.webhooks.send(event_type, intent)

    async def close(self) -> None:
        if self.webhooks is not None:
            await self.webhooks.close()


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
