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

Run: ``python -m stripe_emulator [--host H] [--port P]`` (or ``HOST`` / ``PORT``; default
127.0.0.1:12111).

Modules, one job each: ``errors`` (Stripe's error shape), ``forms`` (form decoding),
``state`` (the objects and their state machine, idempotent responses), ``faults``,
``webhooks`` (signing and delivery), ``app`` (the HTTP app), ``config`` and ``__main__``
(the program), ``thread`` (serving it inside another process, as the test fixtures do).
"""
