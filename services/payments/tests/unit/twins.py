"""payments' use cases on the in-memory twins, with a Stripe that lives in a dict."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from bson import ObjectId

from services.payments import service
from services.payments.adapters.memory import (
    InMemoryOrderReplica,
    InMemoryPaymentRepository,
    InMemoryUnitOfWork,
    State,
)
from services.payments.domain import Intent, NextAction, Order, Payment, StripeEvent
from services.payments.ports import Transaction, UnitOfWork
from services.payments.service import Deps
from services.payments.tests import conftest
from shared.errors import Conflict, PaymentDeclined, ServiceUnavailable
from shared.events import OrderCreated

T = TypeVar("T")

START = datetime(2026, 1, 1, 12, tzinfo=UTC)
DECLINED_TOKEN = "pm_card_chargeDeclined"
THREE_DS_TOKEN = "pm_card_threeDSecure2Required"
AUTHENTICATION_FAILED = "We are unable to authenticate your payment method."


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class FakeStripe:
    """``ports.PaymentGateway`` as Stripe behaves for payments: one PaymentIntent per order
    (its idempotency key is the order's), one refund per intent."""

    intents: dict[str, Intent] = field(default_factory=dict)  # by order id
    refunds: dict[str, str] = field(default_factory=dict)  # intent id: refund id
    charges: int = 0  # charge calls, repeats included
    down: bool = False

    async def charge(
        self,
        order_id: str,
        amount_cents: int,
        token: str,
        *,
        return_url: str | None = None,
        attempt: str | None = None,
    ) -> Intent:
        self.charges += 1
        if self.down:
            raise ServiceUnavailable("Stripe is down")
        if token == DECLINED_TOKEN:
            raise PaymentDeclined()
        intent = await self.intent_of_order(order_id, amount_cents)
        if intent.succeeded:
            return intent  # confirmed already: Stripe refuses, the gateway reads it
        if token == THREE_DS_TOKEN:
            challenge = NextAction("redirect_to_url", f"https://bank.example/{order_id}")
            intent = replace(intent, status="requires_action", next_action=challenge)
        else:
            intent = replace(intent, status="succeeded")
        self.intents[order_id] = intent
        return intent

    async def intent_of_order(self, order_id: str, amount_cents: int) -> Intent:
        unconfirmed = Intent(
            id=f"pi_{order_id}",
            order_id=order_id,
            amount_cents=amount_cents,
            status="requires_payment_method",
            client_secret=f"pi_{order_id}_secret_x",
        )
        return self.intents.setdefault(order_id, unconfirmed)

    def answer_challenge(self, order_id: str, *, passed: bool) -> Intent:
        """The buyer passes or fails the 3-D Secure challenge of the order's intent."""
        intent = self.intents[order_id]
        assert intent.status == "requires_action"
        if passed:
            answered = replace(intent, status="succeeded", next_action=None)
        else:
            answered = replace(
                intent,
                status="requires_payment_method",
                next_action=None,
                error_message=AUTHENTICATION_FAILED,
            )
        self.intents[order_id] = answered
        return answered

    async def refund(self, intent_id: str) -> str:
        if self.down:
            raise ServiceUnavailable("Stripe is down")
        return self.refunds.setdefault(intent_id, f"re_{intent_id}")

    def parse_webhook(self, payload: bytes, signature: str | None) -> StripeEvent:
        # Unit tests hand StripeEvents to the use case; the signature is the api tests' job.
        event = json.loads(payload)
        return StripeEvent(id=event["id"], type=event["type"], intent=None)


@dataclass
class Twins:
    state: State
    stripe: FakeStripe
    clock: Clock
    deps: Deps


def twins() -> Twins:
    state = State()
    stripe = FakeStripe()
    clock = Clock()
    deps = Deps(
        orders=InMemoryOrderReplica(state),
        payments=InMemoryPaymentRepository(state),
        stripe=stripe,
        uow=InMemoryUnitOfWork(state),
        clock=clock,
    )
    return Twins(state, stripe, clock, deps)


class ConflictsOnce:
    """A unit of work whose first transaction loses a race at commit, so its work is run
    twice: what a use case counts or does outside the transaction must not double."""

    def __init__(self, inner: UnitOfWork) -> None:
        self._inner = inner
        self.conflicted = False

    def __call__(self) -> AbstractAsyncContextManager[Transaction]:
        return self._inner()

    async def run(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        async def losing_first(tx: Transaction) -> T:
            result = await work(tx)
            if not self.conflicted:
                self.conflicted = True
                raise Conflict("a racer committed first")
            return result

        return await self._inner.run(losing_first)


async def paid(
    t: Twins, order_id: str, user_id: str, token: str = "pm_card_visa", **options: Any
) -> Payment:
    """``service.pay_for_order``, for a card that needs no challenge: the payment."""
    payment = await service.pay_for_order(order_id, token, user_id, deps=t.deps, **options)
    assert isinstance(payment, Payment)
    return payment


def order_created(user_id: str | None = None, price_cents: int = 2000) -> OrderCreated:
    """As orders announces a new order, held until 15 minutes after ``START``."""
    created = conftest.order_created(user_id, price_cents)
    return replace(created, expires_at=START + timedelta(minutes=15))


def succeeded(order: Order, amount_cents: int | None = None, *, age_s: float = 0) -> StripeEvent:
    """Stripe's ``payment_intent.succeeded`` for a charge of the order, ``age_s`` old."""
    intent = Intent(
        id=f"pi_{ObjectId()}",
        order_id=order.id,
        amount_cents=order.price_cents if amount_cents is None else amount_cents,
        status="succeeded",
    )
    return StripeEvent(
        id=f"evt_{ObjectId()}",
        type="payment_intent.succeeded",
        intent=intent,
        created_at=START - timedelta(seconds=age_s),
    )
