"""/api/payments handlers: load the body, call one use case, dump the result."""

from __future__ import annotations

from aiohttp import web

from services.payments import service
from services.payments.api.keys import DEPS
from services.payments.api.schemas import CreatePaymentIn, PaymentOut
from shared.auth import require_auth
from shared.web import idempotency_key, load, read_json

routes = web.RouteTableDef()


@routes.post("/api/payments")
async def create_payment(request: web.Request) -> web.Response:
    user = require_auth(request)
    body = load(CreatePaymentIn(), await read_json(request))
    key = idempotency_key(request, scope=f"{user.id} POST /api/payments", body=body)
    payment = await service.pay_for_order(
        body["order_id"], body["token"], user.id, idempotency=key, deps=request.app[DEPS]
    )
    return web.json_response(PaymentOut().dump(payment), status=201)


@routes.post("/api/payments/webhook")
async def stripe_webhook(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    event = deps.stripe.parse_webhook(await request.read(), request.headers.get("Stripe-Signature"))
    await service.handle_stripe_event(event, deps=deps)
    return web.json_response({"received": True})
