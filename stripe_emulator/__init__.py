"""An offline Stripe API: the endpoints payments calls, in one process's memory.

It is driven through the real ``stripe`` SDK over HTTP (``base_addresses={"api": url}``),
so payments runs the same code path as against Stripe: form-encoded bodies
(``metadata[order_id]=...``), Stripe-shaped objects and errors (a decline is a 402
``card_error``, so the SDK raises ``stripe.CardError``), and ``Idempotency-Key`` replays.
Test payment methods and tokens behave as in Stripe's test mode: ``pm_card_visa`` and
``tok_visa`` succeed; ``pm_card_chargeDeclined`` and ``tok_chargeDeclined`` decline;
``pm_card_threeDSecure2Required`` (card 4000 0027 6000 3184) needs 3-D Secure: confirming
answers ``requires_action`` with a ``next_action`` (``redirect_to_url`` when confirmed with
a ``return_url``, else ``use_stripe_sdk``) pointing at a challenge page,
``/_emulator/3ds/{intent}/{challenge}``, whose Complete makes the intent ``succeeded`` and
whose Fail sends it back to ``requires_payment_method`` with ``last_payment_error``
(``payment_intent_authentication_failure``); after a redirect the buyer goes back to the
``return_url`` with ``payment_intent``, ``payment_intent_client_secret`` and
``redirect_status``. ConfirmationTokens (``ctoken_``) are made by ``POST
/v1/confirmation_tokens`` (Stripe.js, with the publishable key as ``key``) or ``POST
/v1/test_helpers/confirmation_tokens`` (``payment_method``), and confirm like the card in
them. ``GET /v3/`` serves a stand-in for Stripe.js (``stripe.js``: the Payment Element as
a card-number field, ``createConfirmationToken``, ``handleNextAction``) for offline
browser tests.

Endpoints: ``POST /v1/payment_methods`` (``card[token]``), ``POST /v1/payment_intents``,
``GET /v1/payment_intents/search`` (``metadata['key']:'value'`` only),
``GET /v1/payment_intents/{id}``, ``POST /v1/payment_intents/{id}/confirm`` and
``.../cancel``, ``POST /v1/confirmation_tokens``, ``POST /v1/refunds`` and
``GET /v1/refunds`` (by ``payment_intent``);
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

Run: ``python -m stripe_emulator [--host H] [--port P]`` (or ``HOST`` / ``PORT``; default
127.0.0.1:12111).

Modules, one job each: ``errors`` (Stripe's error shape), ``forms`` (form decoding),
``state`` (the objects and their state machine, idempotent responses), ``faults``,
``webhooks`` (signing and delivery), ``app`` (the HTTP app), ``config`` and ``__main__``
(the program), ``thread`` (serving it inside another process, as the test fixtures do),
``browser`` (the challenge page and the Stripe.js stand-in).
"""
