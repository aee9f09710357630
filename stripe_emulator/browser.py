"""What the emulator shows a browser: the 3-D Secure challenge page, and a stand-in for
Stripe.js (``stripe.js``) that talks to the emulator instead of Stripe."""

from __future__ import annotations

import html
import json
from functools import cache
from importlib import resources
from urllib.parse import urlencode, urlsplit, urlunsplit

from aiohttp import web

from stripe_emulator.errors import Params

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body><h1>{title}</h1>{body}</body></html>
"""


def challenge(intent: Params) -> web.Response:
    """The challenge: the amount, and Complete or Fail (posted back to this URL)."""
    amount = f"{intent['amount'] / 100:.2f} {intent['currency'].upper()}"
    body = (
        f"<p>Your bank asks you to confirm a payment of {html.escape(amount)} "
        "(Stripe emulator: no real bank is asked).</p>"
        '<form method="post">'
        '<button type="submit" name="outcome" value="complete">Complete</button> '
        '<button type="submit" name="outcome" value="fail">Fail</button>'
        "</form>"
    )
    return _page("3D Secure 2 Test Page", body, 200)


def closed(message: str) -> web.Response:
    """A challenge answered already, replaced by another attempt, or never made."""
    return _page("Challenge closed", f"<p>{html.escape(message)}</p>", 400)


def wants_json(request: web.Request) -> bool:
    """Stripe.js (the stand-in) answers by fetch and wants the intent, not a redirect."""
    return "application/json" in request.headers.get("Accept", "")


def back_to(return_url: str, intent: Params) -> str:
    """The ``return_url`` with what Stripe adds when the buyer comes back."""
    parts = urlsplit(return_url)
    added = urlencode(
        {
            "payment_intent": intent["id"],
            "payment_intent_client_secret": intent["client_secret"],
            "redirect_status": "succeeded" if intent["status"] == "succeeded" else "failed",
        }
    )
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit(parts._replace(query=query))


@cache
def _stripe_js_source() -> str:
    return resources.files("stripe_emulator").joinpath("stripe.js").read_text()


def stripe_js(base_url: str) -> str:
    """The Stripe.js stand-in, calling the emulator at ``base_url``."""
    return _stripe_js_source().replace("__EMULATOR_BASE__", json.dumps(base_url))


def _page(title: str, body: str, status: int) -> web.Response:
    return web.Response(
        text=PAGE.format(title=html.escape(title), body=body),
        status=status,
        content_type="text/html",
        headers={"Cache-Control": "no-store"},
    )
