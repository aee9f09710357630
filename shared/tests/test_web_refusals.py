"""What base_app refuses before a handler runs: bodies that are not JSON (415) and
state-changing requests from another site (403), both in the standard error shape."""

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from shared.config import ConfigError, Env
from shared.web import HttpSettings, base_app
from shared.web.csrf import Origin, parse_origins

Client = TestClient[Any, Any]
MakeClient = Callable[..., Awaitable[Client]]

routes = web.RouteTableDef()


@routes.post("/things")
@routes.delete("/things")
async def change(request: web.Request) -> web.Response:
    return web.json_response({"changed": True})


@routes.get("/things")
async def show(request: web.Request) -> web.Response:
    return web.json_response({"things": []})


async def start(make: MakeClient, http: HttpSettings | None = None, **kw: Any) -> Client:
    app = base_app(http or HttpSettings(), **kw)
    app.add_routes(routes)
    return await make(app)


@pytest.fixture
async def client(aiohttp_client: MakeClient) -> Client:
    return await start(aiohttp_client)


def own_origin(client: Client) -> str:
    return f"http://{client.host}:{client.port}"


NOT_JSON = {"errors": [{"message": "Request body must be JSON (Content-Type: application/json)"}]}
CROSS_SITE = {"errors": [{"message": "Cross-site requests are not allowed"}]}


# ---------------------------------------------------------------------------- 415


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
        "text/plain; charset=utf-8",
        "application/jsonp",
        "application/octet-stream",
    ],
)
async def test_a_body_of_another_type_is_415(client: Client, content_type: str) -> None:
    response = await client.post(
        "/things", data=b'{"name": "x"}', headers={"Content-Type": content_type}
    )

    assert response.status == 415
    assert await response.json() == NOT_JSON


async def test_a_body_without_a_content_type_is_415(client: Client) -> None:
    # aiohttp's client would name a type for bytes; skip_auto_headers leaves it out.
    response = await client.post(
        "/things", data=b'{"name": "x"}', skip_auto_headers={"Content-Type"}
    )

    assert response.status == 415
    assert await response.json() == NOT_JSON


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
async def test_a_json_body_passes(client: Client, content_type: str) -> None:
    response = await client.post("/things", data=b"{}", headers={"Content-Type": content_type})

    assert response.status == 200


async def test_a_request_without_a_body_needs_no_content_type(client: Client) -> None:
    bare = await client.post("/things", skip_auto_headers={"Content-Type"})
    deleted = await client.delete("/things")

    assert (bare.status, deleted.status) == (200, 200)


async def test_an_app_that_takes_forms_may_leave_the_check_out(aiohttp_client: MakeClient) -> None:
    forms = await start(aiohttp_client, json_bodies=False)

    response = await forms.post("/things", data={"name": "x"})

    assert response.status == 200


# ---------------------------------------------------------------------------- 403


@pytest.mark.parametrize("method", ["POST", "DELETE"])
async def test_sec_fetch_site_cross_site_is_403(client: Client, method: str) -> None:
    response = await client.request(method, "/things", headers={"Sec-Fetch-Site": "cross-site"})

    assert response.status == 403
    assert await response.json() == CROSS_SITE


@pytest.mark.parametrize(
    "origin",
    [
        "null",
        "http://evil.example",
        "http://127.0.0.1",  # another port
        "https://127.0.0.1:{port}",  # another scheme
        "http://127.0.0.1:{port}/path",  # not an origin at all
        "not a url",
    ],
)
async def test_an_origin_that_is_not_ours_is_403(client: Client, origin: str) -> None:
    response = await client.post(
        "/things", json={}, headers={"Origin": origin.format(port=client.port)}
    )

    assert response.status == 403
    assert await response.json() == CROSS_SITE


async def test_same_origin_requests_pass(client: Client) -> None:
    for headers in (
        {"Origin": own_origin(client)},
        {"Origin": own_origin(client), "Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "none"},  # typed or bookmarked by the user
        {},  # curl, another service, Stripe's webhook
    ):
        response = await client.post("/things", json={}, headers=headers)

        assert response.status == 200, headers


async def test_reads_are_never_refused(client: Client) -> None:
    response = await client.get(
        "/things", headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    )

    assert response.status == 200


async def test_behind_a_proxy_the_scheme_is_the_forwarded_one(client: Client) -> None:
    https = f"https://127.0.0.1:{client.port}"
    forwarded = {"X-Forwarded-Proto": "https"}

    secure = await client.post("/things", json={}, headers={"Origin": https, **forwarded})
    downgraded = await client.post(
        "/things", json={}, headers={"Origin": own_origin(client), **forwarded}
    )

    assert (secure.status, downgraded.status) == (200, 403)


async def test_the_host_header_names_our_origin_and_default_ports_match(client: Client) -> None:
    public = {"Host": "Tickets.Example", "X-Forwarded-Proto": "https"}  # hosts ignore case

    plain = await client.post(
        "/things", json={}, headers={"Origin": "https://tickets.example", **public}
    )
    spelled_out = await client.post(
        "/things", json={}, headers={"Origin": "https://tickets.example:443", **public}
    )

    assert (plain.status, spelled_out.status) == (200, 200)


async def test_allowed_origins_may_post_too(aiohttp_client: MakeClient) -> None:
    http = HttpSettings(allowed_origins=parse_origins("ALLOWED_ORIGINS", "https://shop.example"))
    allowing = await start(aiohttp_client, http)

    listed = await allowing.post("/things", json={}, headers={"Origin": "https://shop.example"})
    other = await allowing.post("/things", json={}, headers={"Origin": "https://evil.example"})

    assert (listed.status, other.status) == (200, 403)


async def test_a_cross_site_form_post_is_refused_even_where_forms_are_taken(
    aiohttp_client: MakeClient,
) -> None:
    forms = await start(aiohttp_client, json_bodies=False)

    response = await forms.post(
        "/things", data={"name": "x"}, headers={"Origin": "http://evil.example"}
    )

    assert response.status == 403


# ---------------------------------------------------------------------------- settings


def test_allowed_origins_are_read_comma_or_space_separated() -> None:
    env = Env({"ALLOWED_ORIGINS": "https://a.example, http://b.example:8080  https://c.example"})

    http = HttpSettings.from_env(env)

    assert http.allowed_origins == {
        Origin("https", "a.example", 443),
        Origin("http", "b.example", 8080),
        Origin("https", "c.example", 443),
    }
    assert HttpSettings.from_env(Env({})).allowed_origins == frozenset()


@pytest.mark.parametrize("bad", ["a.example", "https://a.example/app", "ftp://a.example", "null"])
def test_an_allowed_origin_that_is_not_an_origin_is_a_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match=f"ALLOWED_ORIGINS .*{bad}"):
        HttpSettings.from_env(Env({"ALLOWED_ORIGINS": bad}))
