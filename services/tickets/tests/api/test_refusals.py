"""POST /api/tickets takes only JSON (415) and only from its own site (403): issue 13, CSRF."""

from services.tickets.tests.conftest import Client
from shared.testing.fixtures import Signin

TICKET = '{"title": "concert", "price": 10}'


async def listed(client: Client) -> list[object]:
    tickets: list[object] = await (await client.get("/api/tickets")).json()
    return tickets


async def test_a_ticket_posted_as_text_is_415_and_not_created(
    client: Client, signin: Signin
) -> None:
    # A page on another site can post text/plain without a CORS preflight; JSON it cannot.
    response = await client.post("/api/tickets", data=TICKET, cookies=signin())

    assert response.status == 415
    assert await response.json() == {
        "errors": [{"message": "Request body must be JSON (Content-Type: application/json)"}]
    }
    assert await listed(client) == []


async def test_a_ticket_posted_from_another_site_is_403_and_not_created(
    client: Client, signin: Signin
) -> None:
    response = await client.post(
        "/api/tickets",
        data=TICKET,
        headers={"Content-Type": "application/json", "Origin": "https://evil.example"},
        cookies=signin(),
    )

    assert response.status == 403
    assert await response.json() == {"errors": [{"message": "Cross-site requests are not allowed"}]}
    assert await listed(client) == []
