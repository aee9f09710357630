"""/api/payments handlers: load the body, call one use case, dump the result."""

from __future__ import annotations

from aiohttp import web

from services.payments import service
from services.payments.api.keys import DEPS
from services.payments.api.schemas import (
    ActionRequiredOut,
    ConfirmPayment,
    ConfirmPaymentIn,
    CreatePaymentIn,
    PayForOrder,
    PaymentOut,
    PaymentRecordOut,
    PaymentsOfOrder,
    PaymentsQueryIn,
    StripeEventIn,
    WebhookReceivedOut,
)
from services.payments.domain import ActionRequired, Payment
from shared.auth import require_auth
from shared.web import (
    IDEMPOTENCY_KEY,
    Header,
    OtherAnswer,
    QueryParameter,
    documented,
    idempotency_key,
    load,
    read_json,
)

routes = web.RouteTableDef()

# Schemas built once: building one deep-copies its fields, a tenth of a small request's
# CPU. Loading and dumping keep no state, so one instance serves every request.
ACTION_REQUIRED_OUT = ActionRequiredOut()
CONFIRM_PAYMENT_IN = ConfirmPaymentIn()
CREATE_PAYMENT_IN = CreatePaymentIn()
PAYMENT_OUT = PaymentOut()
PAYMENT_RECORD_OUT_LIST = PaymentRecordOut(many=True)
PAYMENTS_QUERY_IN = PaymentsQueryIn()
WEBHOOK_RECEIVED_OUT = WebhookReceivedOut()

EXAMPLE_ORDER_ID = "6003115eae86e60018be7b1e"


EXAMPLE_ACTION_REQUIRED = {
    "status": "requires_action",
    "orderId": EXAMPLE_ORDER_ID,
    "clientSecret": "pi_3QmZ2bLkdIwHu7ix0d4KzW1E_secret_5EyDJyg0d1mKnVtw",
    "nextAction": {
        "type": "redirect_to_url",
        "redirectUrl": "https://hooks.stripe.com/3d_secure_2/hosted?merchant=acct_1",
    },
}
ACTION_REQUIRED = OtherAnswer(
    202,
    ActionRequiredOut,
    "Nothing taken yet: the card asks for 3-D Secure. The browser shows the challenge "
    "(nextAction), then POST /api/payments/confirm finishes the payment",
    EXAMPLE_ACTION_REQUIRED,
)


def _answer(result: Payment | ActionRequired) -> web.Response:
    if isinstance(result, ActionRequired):
        return web.json_response(ACTION_REQUIRED_OUT.dump(result), status=202)
    return web.json_response(PAYMENT_OUT.dump(result), status=201)


@routes.post("/api/payments")
@documented(
    summary="Pay for my order",
    description="token: a ConfirmationToken from Stripe.js (ctoken_...), a PaymentMethod id "
    "(pm_card_visa) or a legacy card token (tok_visa). A card that asks for 3-D Secure is "
    "202 (nothing taken yet). Paying again for a paid order, or for a cancelled one, is 400.",
    request=CreatePaymentIn,
    response=PaymentOut,
    status=201,
    other_answers=(ACTION_REQUIRED,),
    errors=(400, 401, 402, 404, 409, 503),
    auth="required",
    headers=(IDEMPOTENCY_KEY,),
    request_example={
        "orderId": EXAMPLE_ORDER_ID,
        "token": "pm_card_visa",
        "returnUrl": f"https://tickets.example/orders/{EXAMPLE_ORDER_ID}/authenticated",
    },
    response_example={"id": "6003120aae86e60018be7b20"},
)
async def create_payment(request: web.Request) -> web.Response:
    user = require_auth(request)
    command: PayForOrder = load(CREATE_PAYMENT_IN, await read_json(request))
    key = idempotency_key(request, scope=f"{user.id} POST /api/payments", body=command)
    result = await service.pay_for_order(
        command.order_id,
        command.token,
        user.id,
        return_url=command.return_url,
        idempotency=key,
        deps=request.app[DEPS].get(),
    )
    return _answer(result)


@routes.post("/api/payments/confirm")
@documented(
    summary="Finish paying after 3-D Secure",
    description="Called once the buyer has answered the card's challenge: payments reads "
    "the order's PaymentIntent from Stripe and settles it as POST /api/payments does (201 "
    "with the one payment, however often called; Stripe's webhook settles the same "
    "payment). 202 while the challenge is unanswered; a failed challenge is 402 and the "
    "buyer may pay again. An order cancelled meanwhile is 400 and its money goes back.",
    request=ConfirmPaymentIn,
    response=PaymentOut,
    status=201,
    other_answers=(ACTION_REQUIRED,),
    errors=(400, 401, 402, 404, 409, 503),
    auth="required",
    request_example={"orderId": EXAMPLE_ORDER_ID},
    response_example={"id": "6003120aae86e60018be7b20"},
)
async def confirm_payment(request: web.Request) -> web.Response:
    user = require_auth(request)
    command: ConfirmPayment = load(CONFIRM_PAYMENT_IN, await read_json(request))
    result = await service.confirm_payment(command.order_id, user.id, deps=request.app[DEPS].get())
    return _answer(result)


@routes.get("/api/payments")
@documented(
    summary="What was taken for my order",
    description="Every payment Stripe took for the order, oldest first: kept (succeeded), "
    "or given back (refunding, then refunded) with the reason. Only the buyer may look.",
    response=PaymentRecordOut,
    many=True,
    errors=(400, 401, 404, 503),
    auth="required",
    query=(QueryParameter("orderId", "The order's id", required=True),),
    response_example=[
        {
            "id": "6003120aae86e60018be7b20",
            "orderId": EXAMPLE_ORDER_ID,
            "stripeId": "pi_3QmZ2bLkdIwHu7ix0d4KzW1E",
            "status": "refunded",
            "refundReason": "order_cancelled",
        }
    ],
)
async def list_payments(request: web.Request) -> web.Response:
    user = require_auth(request)
    query: PaymentsOfOrder = load(PAYMENTS_QUERY_IN, request.query)
    payments = await service.payments_of_order(
        query.order_id, user.id, deps=request.app[DEPS].get()
    )
    return web.json_response(PAYMENT_RECORD_OUT_LIST.dump(payments))


@routes.post("/api/payments/webhook")
@documented(
    summary="Stripe's payment events",
    description="Called by Stripe, not by buyers. The raw body must verify against "
    "Stripe-Signature (else 400); an event seen before is acknowledged and ignored.",
    request=StripeEventIn,
    response=WebhookReceivedOut,
    errors=(400, 503),
    headers=(Header("Stripe-Signature", "Stripe's signature of the raw body", required=True),),
    request_example={
        "id": "evt_3QmZ2bLkdIwHu7ix0nV8Jb0d",
        "type": "payment_intent.succeeded",
        "data": {
            "object": {
                "id": "pi_3QmZ2bLkdIwHu7ix0d4KzW1E",
                "object": "payment_intent",
                "amount": 2000,
                "currency": "usd",
                "status": "succeeded",
                "metadata": {"order_id": EXAMPLE_ORDER_ID},
            }
        },
    },
    response_example={"received": True},
)
async def stripe_webhook(request: web.Request) -> web.Response:
    deps = request.app[DEPS].get()
    event = deps.stripe.parse_webhook(await request.read(), request.headers.get("Stripe-Signature"))
    await service.handle_stripe_event(event, deps=deps)
    return web.json_response(WEBHOOK_RECEIVED_OUT.dump({"received": True}))
