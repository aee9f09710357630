"""The Stripe emulator, driven through the real ``stripe`` SDK over HTTP as payments drives it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import stripe
from aiohttp import web
from aiohttp.test_utils import TestServer

from shared.testing.poll import eventually
from shared.testing.services import free_port, wait_for
from stripe_emulator.app import EMULATOR, create_emulator_app
from stripe_emulator.forms import nest

ServerFactory = Callable[..., Awaitable[TestServer]]
WEBHOOK_SECRET = "whsec_emulator_test"


def base_url(server: TestServer) -> str:
    return f"http://{server.host}:{server.port}"


def sdk_client(url: str, session: aiohttp.ClientSession) -> stripe.StripeClient:
    """The SDK's async client on the emulator at ``url``; no retries, so every error shows."""
    return stripe.StripeClient(
        "sk_test_emulator",
        base_addresses={"api": url},
        http_client=stripe.AIOHTTPClient(session=session),
        max_network_retries=0,
    )


@pytest.fixture
async def emulator_url(aiohttp_server: ServerFactory) -> str:
    return base_url(await aiohttp_server(create_emulator_app()))


@pytest.fixture
async def client(emulator_url: str) -> AsyncIterator[stripe.StripeClient]:
    async with aiohttp.ClientSession() as session:
        yield sdk_client(emulator_url, session)


async def create_intent(
    client: stripe.StripeClient, amount: int = 2000, key: str | None = None, order_id: str = "o1"
) -> stripe.PaymentIntent:
    return await client.v1.payment_intents.create_async(
        params={
            "amount": amount,
            "currency": "usd",
            "allowed_payment_method_types": ["card"],
            "metadata": {"order_id": order_id},
        },
        options={"idempotency_key": key} if key else None,
    )


async def paid_intent(client: stripe.StripeClient, amount: int = 2000) -> stripe.PaymentIntent:
    intent = await create_intent(client, amount)
    return await client.v1.payment_intents.confirm_async(
        intent.id, params={"payment_method": "pm_card_visa"}
    )


def test_form_fields_nest_back_into_objects_and_lists() -> None:
    fields = [
        ("amount", "2000"),
        ("metadata[order_id]", "o1"),
        ("allowed_payment_method_types[0]", "card"),
        ("payment_method_data[card][token]", "tok_visa"),
    ]

    assert nest(fields) == {
        "amount": "2000",
        "metadata": {"order_id": "o1"},
        "allowed_payment_method_types": ["card"],
        "payment_method_data": {"card": {"token": "tok_visa"}},
    }


async def test_a_payment_intent_confirmed_with_a_test_card_succeeds(
    client: stripe.StripeClient,
) -> None:
    created = await create_intent(client, amount=1234, order_id="order-1")

    confirmed = await client.v1.payment_intents.confirm_async(
        created.id, params={"payment_method": "pm_card_visa"}
    )

    assert created.object == "payment_intent"
    assert created.id.startswith("pi_")
    assert created.status == "requires_payment_method"
    assert (confirmed.id, confirmed.status) == (created.id, "succeeded")
    assert (confirmed.amount, confirmed.amount_received, confirmed.currency) == (1234, 1234, "usd")
    assert confirmed.metadata.to_dict() == {"order_id": "order-1"}
    assert confirmed.payment_method == "pm_card_visa"
    assert str(confirmed.latest_charge).startswith("ch_")


async def test_a_legacy_card_token_becomes_a_payment_method_that_pays(
    client: stripe.StripeClient,
) -> None:
    method = await client.v1.payment_methods.create_async(
        params={"type": "card", "card": {"token": "tok_visa"}}
    )
    intent = await create_intent(client)

    confirmed = await client.v1.payment_intents.confirm_async(
        intent.id, params={"payment_method": method.id}
    )

    assert method.id.startswith("pm_")
    assert method.card is not None
    assert method.card.last4 == "4242"
    assert confirmed.status == "succeeded"


@pytest.mark.parametrize("card", ["pm_card_chargeDeclined", "tok_chargeDeclined"])
async def test_a_declined_card_raises_card_error_with_stripes_message(
    client: stripe.StripeClient, card: str
) -> None:
    intent = await create_intent(client)
    if card.startswith("tok_"):
        method = await client.v1.payment_methods.create_async(
            params={"type": "card", "card": {"token": card}}
        )
        card = method.id

    with pytest.raises(stripe.CardError) as declined:
        await client.v1.payment_intents.confirm_async(intent.id, params={"payment_method": card})

    assert declined.value.http_status == 402
    assert declined.value.code == "card_declined"
    assert declined.value.user_message == "Your card was declined."
    assert declined.value.error is not None
    assert declined.value.error.decline_code == "generic_decline"
    after = await client.v1.payment_intents.retrieve_async(intent.id)
    assert after.status == "requires_payment_method"
    assert after.last_payment_error is not None


async def test_a_card_token_passed_as_payment_method_data_is_confirmed_at_create(
    emulator_url: str,
) -> None:
    form = {
        "amount": "2000",
        "currency": "usd",
        "confirm": "true",
        "payment_method_data[type]": "card",
        "payment_method_data[card][token]": "tok_chargeDeclined",
    }
    headers = {"Authorization": "Bearer sk_test_emulator"}

    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{emulator_url}/v1/payment_intents", data=form, headers=headers) as response,
    ):
        body = await response.json()

    assert response.status == 402
    assert body["error"]["type"] == "card_error"
    assert body["error"]["message"] == "Your card was declined."
    assert body["error"]["payment_intent"]["status"] == "requires_payment_method"
    assert body["error"]["payment_intent"]["payment_method"].startswith("pm_")


async def test_a_repeated_idempotency_key_replays_the_first_response(
    client: stripe.StripeClient,
) -> None:
    first = await create_intent(client, key="order-7-intent", order_id="order-7")

    again = await create_intent(client, key="order-7-intent", order_id="order-7")

    assert again.id == first.id
    assert again.last_response is not None
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    found = await client.v1.payment_intents.search_async(
        params={"query": "metadata['order_id']:'order-7'"}
    )
    assert [intent.id for intent in found.data] == [first.id]


async def test_concurrent_requests_with_one_idempotency_key_create_one_intent(
    client: stripe.StripeClient,
) -> None:
    intents = await asyncio.gather(
        *(create_intent(client, key="racing-key", order_id="order-race") for _ in range(5))
    )

    assert len({intent.id for intent in intents}) == 1
    found = await client.v1.payment_intents.search_async(
        params={"query": "metadata['order_id']:'order-race'"}
    )
    assert len(found.data) == 1


async def test_an_idempotency_key_reused_for_another_request_is_refused(
    client: stripe.StripeClient,
) -> None:
    await create_intent(client, amount=2000, key="used-once")

    with pytest.raises(stripe.IdempotencyError):
        await create_intent(client, amount=3000, key="used-once")


async def test_a_declined_confirmation_is_replayed_under_its_key(
    client: stripe.StripeClient,
) -> None:
    intent = await create_intent(client)
    options: Any = {"idempotency_key": "confirm-declined"}
    params: Any = {"payment_method": "pm_card_chargeDeclined"}
    with pytest.raises(stripe.CardError):
        await client.v1.payment_intents.confirm_async(intent.id, params=params, options=options)

    with pytest.raises(stripe.CardError) as replayed:
        await client.v1.payment_intents.confirm_async(intent.id, params=params, options=options)

    assert replayed.value.headers is not None
    assert replayed.value.headers.get("Idempotent-Replayed") == "true"


async def test_retrieving_an_unknown_intent_is_a_404_invalid_request(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await client.v1.payment_intents.retrieve_async("pi_doesnotexist")

    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"
    assert "pi_doesnotexist" in str(missing.value.user_message)


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"currency": "usd"}, "amount"),
        ({"amount": 49, "currency": "usd"}, "amount"),
        ({"amount": 2000}, "currency"),
        ({"amount": 2000, "currency": "usd", "payment_method": "pm_unknown"}, "payment_method"),
    ],
)
async def test_bad_parameters_are_a_400_naming_the_parameter(
    client: stripe.StripeClient, params: Any, param: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        await client.v1.payment_intents.create_async(params=params)

    assert refused.value.http_status == 400
    assert refused.value.param == param


async def test_an_unknown_token_is_refused(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        await client.v1.payment_methods.create_async(
            params={"type": "card", "card": {"token": "tok_nonsense"}}
        )

    assert (refused.value.http_status, refused.value.code) == (400, "resource_missing")


async def test_confirming_a_succeeded_intent_again_is_an_unexpected_state(
    client: stripe.StripeClient,
) -> None:
    intent = await paid_intent(client)

    with pytest.raises(stripe.InvalidRequestError) as refused:
        await client.v1.payment_intents.confirm_async(
            intent.id, params={"payment_method": "pm_card_visa"}
        )

    assert refused.value.code == "payment_intent_unexpected_state"


async def test_a_succeeded_intent_is_refunded_in_full_once(client: stripe.StripeClient) -> None:
    intent = await paid_intent(client, amount=2500)

    refund = await client.v1.refunds.create_async(params={"payment_intent": intent.id})

    assert refund.object == "refund"
    assert refund.id.startswith("re_")
    assert (refund.status, refund.amount, refund.payment_intent) == ("succeeded", 2500, intent.id)
    listed = await client.v1.refunds.list_async(params={"payment_intent": intent.id})
    assert [r.id for r in listed.data] == [refund.id]
    with pytest.raises(stripe.InvalidRequestError) as again:
        await client.v1.refunds.create_async(params={"payment_intent": intent.id})
    assert again.value.code == "charge_already_refunded"


async def test_an_intent_that_took_no_money_cannot_be_refunded(
    client: stripe.StripeClient,
) -> None:
    intent = await create_intent(client)

    with pytest.raises(stripe.InvalidRequestError) as refused:
        await client.v1.refunds.create_async(params={"payment_intent": intent.id})

    assert refused.value.param == "payment_intent"


async def test_an_open_intent_can_be_cancelled_and_a_succeeded_one_cannot(
    client: stripe.StripeClient,
) -> None:
    open_intent = await create_intent(client)
    succeeded = await paid_intent(client)

    cancelled = await client.v1.payment_intents.cancel_async(
        open_intent.id, params={"cancellation_reason": "abandoned"}
    )
    with pytest.raises(stripe.InvalidRequestError) as refused:
        await client.v1.payment_intents.cancel_async(succeeded.id)

    assert (cancelled.status, cancelled.cancellation_reason) == ("canceled", "abandoned")
    assert refused.value.code == "payment_intent_unexpected_state"
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.payment_intents.confirm_async(
            cancelled.id, params={"payment_method": "pm_card_visa"}
        )


async def test_a_request_without_an_api_key_is_refused(emulator_url: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{emulator_url}/v1/payment_intents/pi_x") as response,
    ):
        body = await response.json()

    assert response.status == 401
    assert body["error"]["type"] == "invalid_request_error"


async def test_unknown_routes_get_a_stripe_shaped_404(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await client.v1.charges.retrieve_async("ch_x")

    assert missing.value.http_status == 404
    assert "Unrecognized request URL" in str(missing.value.user_message)


async def test_health_and_readiness_answer_200(emulator_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for path in ("/healthz", "/readyz"):
            async with session.get(f"{emulator_url}{path}") as response:
                assert response.status == 200


async def test_a_payment_is_posted_to_the_webhook_url_signed_as_stripe_signs(
    aiohttp_server: ServerFactory,
) -> None:
    received: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue()

    async def webhook(request: web.Request) -> web.Response:
        await received.put((await request.read(), request.headers["Stripe-Signature"]))
        return web.json_response({"received": True})

    receiver = web.Application()
    receiver.router.add_post("/hook", webhook)
    hook_url = f"{base_url(await aiohttp_server(receiver))}/hook"
    emulator = await aiohttp_server(
        create_emulator_app(webhook_url=hook_url, webhook_secret=WEBHOOK_SECRET)
    )
    async with aiohttp.ClientSession() as session:
        intent = await paid_intent(sdk_client(base_url(emulator), session))

    payload, signature = await asyncio.wait_for(received.get(), 5)
    event = stripe.Webhook.construct_event(payload.decode(), signature, WEBHOOK_SECRET)
    assert event.type == "payment_intent.succeeded"
    assert event.data.object["id"] == intent.id
    assert event.data.object["status"] == "succeeded"


def test_the_emulator_runs_as_a_module_on_the_given_port() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "stripe_emulator", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(port, "/healthz", timeout_s=15)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            assert json.load(response) == {"status": "ok"}
    finally:
        process.terminate()
        process.wait(10)


# ---------------------------------------------------------------------------- faults


async def post_faults(session: aiohttp.ClientSession, url: str, body: Any) -> Any:
    async with session.post(f"{url}/_emulator/faults", json=body) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_an_injected_fault_fails_api_calls_with_a_stripe_api_error(
    emulator_url: str,
) -> None:
    async with aiohttp.ClientSession() as session:
        await post_faults(session, emulator_url, {"error_rate": 1.0, "seconds": 30})
        client = sdk_client(emulator_url, session)

        with pytest.raises(stripe.APIError) as failed:
            await create_intent(client)

        assert failed.value.http_status == 500
        assert failed.value.error is not None
        assert failed.value.error.type == "api_error"
        async with session.get(f"{emulator_url}/_emulator/faults") as response:
            assert (await response.json())["faulted_calls"] == 1


async def test_a_failed_call_does_nothing_so_its_idempotent_retry_runs(
    emulator_url: str,
) -> None:
    async with aiohttp.ClientSession() as session:
        client = sdk_client(emulator_url, session)
        await post_faults(session, emulator_url, {"error_rate": 1.0, "seconds": 30})
        with pytest.raises(stripe.APIError):
            await create_intent(client, key="during-outage", order_id="order-outage")
        async with session.delete(f"{emulator_url}/_emulator/faults") as response:
            assert response.status == 200

        intent = await create_intent(client, key="during-outage", order_id="order-outage")

        assert intent.last_response is not None
        assert "Idempotent-Replayed" not in intent.last_response.headers
        found = await client.v1.payment_intents.search_async(
            params={"query": "metadata['order_id']:'order-outage'"}
        )
        assert [i.id for i in found.data] == [intent.id]


async def test_a_delayed_fault_stalls_each_call_before_failing_it(emulator_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        await post_faults(
            session, emulator_url, {"error_rate": 1.0, "delay_ms": 300, "seconds": 30}
        )
        started = asyncio.get_running_loop().time()

        with pytest.raises(stripe.APIError):
            await create_intent(sdk_client(emulator_url, session))

        assert asyncio.get_running_loop().time() - started >= 0.3


async def test_a_fault_ends_by_itself_after_its_seconds(emulator_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        client = sdk_client(emulator_url, session)
        await post_faults(session, emulator_url, {"error_rate": 1.0, "seconds": 0.3})
        with pytest.raises(stripe.APIError):
            await create_intent(client)
        await asyncio.sleep(0.4)

        intent = await create_intent(client)

        assert intent.status == "requires_payment_method"


async def test_a_partial_error_rate_fails_some_calls_and_not_others(emulator_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        client = sdk_client(emulator_url, session)
        await post_faults(session, emulator_url, {"error_rate": 0.5, "seconds": 30})

        outcomes = await asyncio.gather(
            *(create_intent(client) for _ in range(60)), return_exceptions=True
        )

        failed = [o for o in outcomes if isinstance(o, stripe.APIError)]
        assert 0 < len(failed) < len(outcomes)
        assert all(isinstance(o, stripe.PaymentIntent | stripe.APIError) for o in outcomes)


@pytest.mark.parametrize(
    "body",
    [
        {"error_rate": 1.5, "seconds": 1},
        {"error_rate": 1, "seconds": 0},
        {"error_rate": 1},
        {"error_rate": 1, "delay_ms": -1, "seconds": 1},
        ["not", "an", "object"],
    ],
)
async def test_a_malformed_fault_request_is_a_400_and_injects_nothing(
    emulator_url: str, body: Any
) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{emulator_url}/_emulator/faults", json=body) as response:
            assert response.status == 400
            assert (await response.json())["error"]["type"] == "invalid_request_error"

        intent = await create_intent(sdk_client(emulator_url, session))

        assert intent.id.startswith("pi_")


# ---------------------------------------------------------------------------- webhook retries


def pending_deliveries(app: web.Application) -> int:
    """How many webhook deliveries are still trying (their tasks not yet ended)."""
    webhooks = app[EMULATOR].webhooks
    assert webhooks is not None
    return len(webhooks.deliveries)


def webhook_receiver(failures: int, seen: list[str]) -> web.Application:
    """Answers 503 to its first ``failures`` deliveries, then 200; records each event id."""

    async def webhook(request: web.Request) -> web.Response:
        seen.append(json.loads(await request.read())["id"])
        if len(seen) <= failures:
            return web.json_response({"error": "not now"}, status=503)
        return web.json_response({"received": True})

    receiver = web.Application()
    receiver.router.add_post("/hook", webhook)
    return receiver


async def test_a_refused_webhook_is_delivered_again_until_it_is_taken(
    aiohttp_server: ServerFactory,
) -> None:
    seen: list[str] = []
    hook = await aiohttp_server(webhook_receiver(failures=2, seen=seen))
    app = create_emulator_app(webhook_url=f"{base_url(hook)}/hook", webhook_first_delay_s=0.05)
    emulator = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:
        await paid_intent(sdk_client(base_url(emulator), session))

    await eventually(lambda: len(seen) >= 3, timeout_s=5, what="a third delivery")
    # The delivery's task ends once the receiver took it: no fourth attempt can follow.
    await eventually(lambda: not pending_deliveries(app), timeout_s=5, what="delivery done")
    assert len(seen) == 3
    assert len(set(seen)) == 1  # the same event each time


async def test_a_webhook_nobody_listens_for_yet_arrives_once_the_receiver_is_up(
    aiohttp_server: ServerFactory,
) -> None:
    port = free_port()
    emulator = await aiohttp_server(
        create_emulator_app(webhook_url=f"http://127.0.0.1:{port}/hook", webhook_first_delay_s=0.05)
    )
    async with aiohttp.ClientSession() as session:
        started = asyncio.get_running_loop().time()
        intent = await paid_intent(sdk_client(base_url(emulator), session))
        # The API answer does not wait for the webhook that cannot be delivered.
        assert asyncio.get_running_loop().time() - started < 1
    await asyncio.sleep(0.3)  # a few refused connections

    seen: list[str] = []
    await aiohttp_server(webhook_receiver(failures=0, seen=seen), port=port)

    await eventually(lambda: seen, timeout_s=5, what="the delivery")
    assert intent.status == "succeeded"


async def test_webhook_retries_stop_after_the_retry_window(
    aiohttp_server: ServerFactory,
) -> None:
    seen: list[str] = []
    hook = await aiohttp_server(webhook_receiver(failures=1000, seen=seen))
    app = create_emulator_app(
        webhook_url=f"{base_url(hook)}/hook",
        webhook_first_delay_s=0.05,
        webhook_retry_s=0.5,
    )
    emulator = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:
        await paid_intent(sdk_client(base_url(emulator), session))
    await eventually(lambda: seen, timeout_s=5, what="a first attempt")

    # The delivery's task ends when it gives up: no attempt can follow.
    await eventually(lambda: not pending_deliveries(app), timeout_s=5, what="giving up")

    # 0.05, 0.1, 0.2 fit in the window: four attempts, then no more.
    assert len(seen) == 4
