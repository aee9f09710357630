"""The emulator's HTTP app: Stripe's auth, parameters, errors and replays around ``state``."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from stripe_emulator import browser
from stripe_emulator.errors import Params, StripeError, invalid_request, no_such
from stripe_emulator.faults import Faults, faults_from_request
from stripe_emulator.forms import nest
from stripe_emulator.state import StoredResponse, StripeEmulator
from stripe_emulator.webhooks import (
    DEFAULT_WEBHOOK_RETRY_S,
    DEFAULT_WEBHOOK_SECRET,
    WEBHOOK_FIRST_DELAY_S,
    WebhookSender,
)

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

EMULATOR = web.AppKey("stripe_emulator", StripeEmulator)
PARAMS = web.RequestKey("stripe_params", Params)  # parsed once, by the middleware
# Set when a browser called with the publishable key (Stripe.js sends it as ``key``).
PUBLISHABLE = web.RequestKey("stripe_publishable", bool)
# What Stripe.js may do with a publishable key: make ConfirmationTokens, and read an
# intent whose client secret it holds.
PUBLISHABLE_ROUTES = re.compile(r"POST /v1/confirmation_tokens|GET /v1/payment_intents/pi_\w+")


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
        form = await request.post() if request.method == "POST" else request.query
        params = nest((key, str(value)) for key, value in form.items())
        request[PUBLISHABLE] = _publishable(request, params)
        authorization = request.headers.get("Authorization", "")
        has_secret = authorization.startswith("Bearer ") and authorization[7:].strip()
        if not has_secret and not request[PUBLISHABLE]:
            raise invalid_request(
                "You did not provide an API key. Provide it in the Authorization header "
                "(Authorization: Bearer YOUR_SECRET_KEY).",
                status=401,
            )
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
        return _for_browser(request, _error_response(exc))
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
    return _for_browser(request, response)


def _publishable(request: web.Request, params: Params) -> bool:
    """Whether this is Stripe.js's call with a publishable key, on a route it may use."""
    key = params.get("key")
    return (
        isinstance(key, str)
        and key.startswith("pk_")
        and PUBLISHABLE_ROUTES.fullmatch(f"{request.method} {request.path}") is not None
    )


def _for_browser(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    # Stripe.js calls from the merchant's page: simple requests (form bodies, the key in
    # them), so the answer only has to be readable cross-origin.
    if request.get(PUBLISHABLE):
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _origin(request: web.Request) -> str:
    """Where the caller reached us: the base of the challenge pages we hand out."""
    return str(request.url.origin())


routes = web.RouteTableDef()


@routes.get("/healthz")
@routes.get("/readyz")
async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.post("/_emulator/faults")
async def inject_faults(request: web.Request) -> web.Response:
    try:
        faults = faults_from_request(await request.json())
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


@routes.post("/v1/confirmation_tokens")
@routes.post("/v1/test_helpers/confirmation_tokens")
async def create_confirmation_token(request: web.Request) -> web.Response:
    return web.json_response(request.app[EMULATOR].create_confirmation_token(request[PARAMS]))


@routes.post("/v1/payment_methods")
async def create_payment_method(request: web.Request) -> web.Response:
    return web.json_response(request.app[EMULATOR].create_payment_method(request[PARAMS]))


@routes.post("/v1/payment_intents")
async def create_payment_intent(request: web.Request) -> web.Response:
    return web.json_response(
        request.app[EMULATOR].create_intent(request[PARAMS], origin=_origin(request))
    )


@routes.get("/v1/payment_intents/search")
async def search_payment_intents(request: web.Request) -> web.Response:
    return web.json_response(request.app[EMULATOR].search_intents(request[PARAMS]))


@routes.get("/v1/payment_intents/{id}")
async def retrieve_payment_intent(request: web.Request) -> web.Response:
    intent_id = request.match_info["id"]
    intent = request.app[EMULATOR].intent(intent_id)
    if request[PUBLISHABLE] and request[PARAMS].get("client_secret") != intent["client_secret"]:
        raise no_such("payment_intent", intent_id)  # as Stripe: a browser sees only its own
    return web.json_response(intent)


@routes.post("/v1/payment_intents/{id}/confirm")
async def confirm_payment_intent(request: web.Request) -> web.Response:
    return web.json_response(
        request.app[EMULATOR].confirm_intent(
            request.match_info["id"], request[PARAMS], origin=_origin(request)
        )
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


@routes.get("/_emulator/3ds/{intent}/{challenge}")
async def show_challenge(request: web.Request) -> web.Response:
    """The 3-D Secure challenge a ``next_action`` points to: Complete or Fail."""
    try:
        intent, _ = request.app[EMULATOR].open_challenge(
            request.match_info["intent"], request.match_info["challenge"]
        )
    except StripeError as exc:
        return browser.closed(str(exc))
    return browser.challenge(intent)


@routes.post("/_emulator/3ds/{intent}/{challenge}")
async def answer_challenge(request: web.Request) -> web.Response:
    """The buyer's answer. Back to the ``return_url`` (with Stripe's query parameters)
    after a redirect; to Stripe.js (the stand-in's fetch) the intent as it is now."""
    outcome = (await request.post()).get("outcome")
    if outcome not in ("complete", "fail"):
        return _error_response(invalid_request("outcome must be complete or fail", param="outcome"))
    emulator = request.app[EMULATOR]
    intent_id = request.match_info["intent"]
    try:
        challenge = emulator.answer_challenge(
            intent_id, request.match_info["challenge"], passed=outcome == "complete"
        )
    except StripeError as exc:
        if browser.wants_json(request):
            return _error_response(exc)
        return browser.closed(str(exc))
    intent = emulator.intent(intent_id)
    if challenge.return_url and not browser.wants_json(request):
        raise web.HTTPSeeOther(browser.back_to(challenge.return_url, intent))
    return web.json_response(intent, headers={"Access-Control-Allow-Origin": "*"})


@routes.get("/v3/")
@routes.get("/v3")
async def stripe_js(request: web.Request) -> web.Response:
    """A stand-in for Stripe.js (js.stripe.com/v3/) that talks to this emulator."""
    base = request.app[EMULATOR].public_url or _origin(request)
    return web.Response(text=browser.stripe_js(base), content_type="text/javascript")


def create_emulator_app(
    *,
    public_url: str | None = None,
    webhook_url: str | None = None,
    webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
    webhook_retry_s: float = DEFAULT_WEBHOOK_RETRY_S,
    webhook_first_delay_s: float = WEBHOOK_FIRST_DELAY_S,
) -> web.Application:
    """The emulator as an aiohttp app (run it, or mount it in a test server)."""
    webhooks = (
        None
        if webhook_url is None
        else WebhookSender(
            webhook_url,
            secret=webhook_secret,
            retry_s=webhook_retry_s,
            first_delay_s=webhook_first_delay_s,
        )
    )
    app = web.Application(middlewares=[stripe_api])
    app[EMULATOR] = StripeEmulator(webhooks=webhooks, public_url=public_url)
    app.add_routes(routes)
    app.cleanup_ctx.append(_close_emulator)
    return app


async def _close_emulator(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[EMULATOR].close()
