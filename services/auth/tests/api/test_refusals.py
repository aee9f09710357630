"""Sign-up and sign-in take only JSON (415) and only from their own site (403): issue 13."""

import json

from services.auth.tests.conftest import Client, signup

CREDENTIALS = {"email": "test@test.com", "password": "password"}


async def test_a_form_posted_sign_up_is_415_and_signs_nobody_up(client: Client) -> None:
    as_form = await client.post("/api/users/signup", data=CREDENTIALS)
    as_text = await client.post("/api/users/signup", data=json.dumps(CREDENTIALS))

    assert (as_form.status, as_text.status) == (415, 415)
    assert "session" not in as_text.cookies
    await signup(client)  # the email is still free


async def test_a_sign_in_from_another_site_is_403_without_a_cookie(client: Client) -> None:
    await signup(client)

    response = await client.post(
        "/api/users/signin", json=CREDENTIALS, headers={"Sec-Fetch-Site": "cross-site"}
    )

    assert response.status == 403
    assert "session" not in response.cookies
