"""Unknown pages and API outages get friendly pages; the probes and assets are served."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from services.client.config import ApiSettings, Settings
from services.client.tests.conftest import Client, browser, form, page
from shared.logging import LogSettings
from shared.testing.services import free_port
from shared.web import HttpSettings


@pytest.fixture
async def offline(aiohttp_client: Callable[..., Awaitable[Client]]) -> Client:
    """The client with its APIs down: nothing answers at its API base."""
    api = ApiSettings.at(f"http://127.0.0.1:{free_port()}", timeout_s=2)  # nobody listens
    return await browser(
        aiohttp_client, Settings(HttpSettings(), LogSettings(), api, cookie_secure=False)
    )


async def test_an_unknown_page_is_a_friendly_not_found_page(client: Client) -> None:
    response = await client.get("/no/such/page")

    shown = await page(response)
    assert response.status == 404
    assert response.content_type == "text/html"
    assert "Page not found" in shown.text
    assert shown.nav == ["GitTix", "Sign Up", "Sign In"]


async def test_an_api_outage_is_a_friendly_page_without_a_traceback(offline: Client) -> None:
    response = await offline.get("/")

    html = await response.text()
    assert response.status == 503
    assert response.content_type == "text/html"
    assert "GitTix is having trouble" in (await page(response)).text
    assert "Traceback" not in html
    assert "127.0.0.1" not in html


async def test_a_form_posted_during_an_outage_gets_the_friendly_page_too(
    offline: Client,
) -> None:
    response = await offline.post("/auth/signin", data=form(email="a@b.co", password="x"))

    assert response.status == 503
    assert "GitTix is having trouble" in (await page(response)).text


async def test_the_probes_answer_without_the_apis(offline: Client) -> None:
    healthz = await offline.get("/healthz")
    readyz = await offline.get("/readyz")

    assert healthz.status == 200
    assert readyz.status == 200


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/static/app.css", "css"),
        ("/static/js/countdown.js", "javascript"),
        ("/static/js/price.js", "javascript"),
        ("/static/js/stripe-payment.js", "javascript"),
    ],
)
async def test_the_assets_are_served_locally(offline: Client, path: str, kind: str) -> None:
    response = await offline.get(path)

    assert response.status == 200
    # text/ or application/javascript, depending on the platform's MIME table
    assert response.content_type.endswith(f"/{kind}")
