"""Sign up, sign in, sign out: the API's cookie reaches the browser (spec §12.3)."""

from __future__ import annotations

import uuid

import pytest

from services.client.tests.conftest import Client, form, new_browser, page


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@test.com"


async def test_signing_up_hands_the_session_cookie_to_the_browser_and_goes_home(
    client: Client,
) -> None:
    response = await client.post(
        "/auth/signup",
        data=form(email=new_email(), password="password"),
        allow_redirects=False,
    )

    assert response.status == 303
    assert response.headers["Location"] == "/"
    [cookie] = response.headers.getall("Set-Cookie")
    assert cookie.startswith("session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    shown = await page(await client.get("/"))
    assert shown.nav == ["GitTix", "Sell Tickets", "My Orders", "Sign Out"]


async def test_a_bad_signup_shows_the_apis_errors_next_to_the_form(client: Client) -> None:
    response = await client.post("/auth/signup", data=form(email="not-an-email", password="1"))

    shown = await page(response)
    assert response.status == 400
    assert shown.alerts == [
        "Email must be valid",
        "Password must be between 8 and 128 characters",
    ]
    assert 'value="not-an-email"' in await response.text()
    assert "session" not in response.cookies


async def test_signing_up_twice_with_one_email_says_it_is_in_use(client: Client) -> None:
    email = new_email()
    await client.post("/auth/signup", data=form(email=email, password="password"))

    response = await client.post("/auth/signup", data=form(email=email, password="password"))

    assert (await page(response)).alerts == ["Email in use"]


async def test_signing_in_hands_the_session_cookie_to_the_browser(client: Client) -> None:
    email = new_email()
    await client.post("/auth/signup", data=form(email=email, password="password"))
    new_browser(client)

    response = await client.post(
        "/auth/signin", data=form(email=email, password="password"), allow_redirects=False
    )

    assert response.status == 303
    assert response.headers["Location"] == "/"
    assert "session" in response.cookies
    shown = await page(await client.get("/"))
    assert shown.nav == ["GitTix", "Sell Tickets", "My Orders", "Sign Out"]


async def test_a_wrong_password_shows_invalid_credentials(client: Client) -> None:
    email = new_email()
    await client.post("/auth/signup", data=form(email=email, password="password"))
    new_browser(client)

    response = await client.post("/auth/signin", data=form(email=email, password="wrong"))

    assert response.status == 400
    assert (await page(response)).alerts == ["Invalid credentials"]


async def test_signing_out_clears_the_cookie_and_goes_home(client: Client) -> None:
    await client.post("/auth/signup", data=form(email=new_email(), password="password"))

    response = await client.post("/auth/signout", data=form(), allow_redirects=False)

    assert response.status == 303
    assert response.headers["Location"] == "/"
    assert response.cookies["session"].value == ""
    shown = await page(await client.get("/"))
    assert shown.nav == ["GitTix", "Sign Up", "Sign In"]


async def test_the_forms_have_email_and_password_fields(client: Client) -> None:
    signup = await (await client.get("/auth/signup")).text()
    signin = await (await client.get("/auth/signin")).text()

    for html, heading in ((signup, "Sign Up"), (signin, "Sign In")):
        assert f"<h1>{heading}</h1>" in html
        assert 'name="email"' in html
        assert 'type="password"' in html


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_signing_out_is_post_only(client: Client, method: str) -> None:
    await client.post("/auth/signup", data=form(email=new_email(), password="password"))

    # A link, a preloader or another site's <img> must not sign anyone out.
    response = await client.request(method, "/auth/signout", allow_redirects=False)

    assert response.status == 405
    assert "session" not in response.cookies
    shown = await page(await client.get("/"))
    assert shown.nav == ["GitTix", "Sell Tickets", "My Orders", "Sign Out"]


async def test_signing_out_without_the_form_token_is_refused(client: Client) -> None:
    await client.post("/auth/signup", data=form(email=new_email(), password="password"))

    response = await client.post("/auth/signout", allow_redirects=False)

    assert response.status == 403
    assert "session" not in response.cookies
    shown = await page(await client.get("/"))
    assert shown.nav == ["GitTix", "Sell Tickets", "My Orders", "Sign Out"]
