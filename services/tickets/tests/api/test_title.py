"""A title is 1 to 200 characters once trimmed, on create and on update (spec §5, issue 13)."""

from __future__ import annotations

import pytest

from services.tickets.tests.conftest import Client, create_ticket
from shared.events.fields import TITLE_MAX_LENGTH
from shared.testing.fixtures import Signin

TOO_LONG = {"errors": [{"message": "Title must be at most 200 characters", "field": "title"}]}


async def test_a_title_of_200_characters_is_taken_on_create_and_update(
    client: Client, signin: Signin
) -> None:
    cookies = signin()
    longest = "é" * TITLE_MAX_LENGTH  # characters, not UTF-8 bytes

    created = await create_ticket(client, cookies, title=longest)
    updated = await client.put(
        f"/api/tickets/{created['id']}", json={"title": "x" * 200, "price": 20}, cookies=cookies
    )

    assert created["title"] == longest
    assert updated.status == 200
    assert (await updated.json())["title"] == "x" * 200


async def test_a_title_over_200_characters_is_a_400_on_title_on_create(
    client: Client, signin: Signin
) -> None:
    response = await client.post(
        "/api/tickets", json={"title": "x" * 201, "price": 20}, cookies=signin()
    )

    assert response.status == 400
    assert await response.json() == TOO_LONG


async def test_a_title_over_200_characters_is_a_400_on_title_on_update(
    client: Client, signin: Signin
) -> None:
    cookies = signin()
    ticket = await create_ticket(client, cookies)

    response = await client.put(
        f"/api/tickets/{ticket['id']}", json={"title": "x" * 201, "price": 20}, cookies=cookies
    )

    assert response.status == 400
    assert await response.json() == TOO_LONG


async def test_the_length_is_counted_after_trimming(client: Client, signin: Signin) -> None:
    body = await create_ticket(client, signin(), title="  " + "x" * 200 + "\n")

    assert body["title"] == "x" * 200


@pytest.mark.parametrize("title", ["\\ud800", "a\\udfff"])
async def test_a_title_with_a_lone_surrogate_is_a_400_not_a_500(
    client: Client, signin: Signin, title: str
) -> None:
    # JSON may spell a lone UTF-16 surrogate as an escape; no UTF-8 text, and no
    # BSON string, can hold one.
    body = f'{{"title": "{title}", "price": 20}}'.encode()

    response = await client.post(
        "/api/tickets",
        data=body,
        headers={"Content-Type": "application/json"},
        cookies=signin(),
    )

    assert response.status == 400
    assert (await response.json())["errors"][0]["field"] == "title"
