"""auth behind the real nginx gateway, configured from the file compose uses too."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from deploy.local.gateway import UPSTREAM_NAMES, Gateway, Tls
from services.auth.bootstrap import create_service
from services.auth.config import Settings
from shared.mongo import Mongo
from shared.testing.services import free_port, until_open

GatewayFactory = Callable[..., AbstractAsyncContextManager[str]]
# The gateway trusts 127.0.0.1 (DEFAULT_TRUSTED_PROXIES); the rest of 127/8 is loopback too,
# so a client bound to 127.0.0.2 is an untrusted peer on the same machine.
UNTRUSTED_PEER = "127.0.0.2"
TRUSTED_PEER = "127.0.0.1"


@asynccontextmanager
async def running_gateway(
    root: Path, upstreams: dict[str, str], **options: Any
) -> AsyncIterator[str]:
    port = free_port()
    gateway = Gateway(root / f"nginx-{port}", f"127.0.0.1:{port}", upstreams, **options)
    url = f"http://127.0.0.1:{port}"
    await asyncio.to_thread(gateway.start, url)
    try:
        yield url
    finally:
        await asyncio.to_thread(gateway.stop)


@pytest.fixture
async def gateway_at(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    settings: Settings,
    mongo: Mongo,
    tmp_path: Path,
) -> GatewayFactory:
    """``async with gateway_at(**limits) as url``: nginx in front of auth, with ``limits``
    (``auth_rate_per_s``, ``auth_burst``) or the defaults."""
    auth = await aiohttp_server(create_service(settings))
    await until_open(auth.app)
    upstreams = dict.fromkeys(("TICKETS", "ORDERS", "PAYMENTS", "CLIENT"), "127.0.0.1:9")
    upstreams["AUTH"] = f"127.0.0.1:{auth.port}"

    def started(**limits: int) -> AbstractAsyncContextManager[str]:
        return running_gateway(tmp_path, upstreams, **limits)

    return started


@pytest.fixture
async def echo_gateway_at(
    aiohttp_server: Callable[..., Awaitable[TestServer]], tmp_path: Path
) -> GatewayFactory:
    """``async with echo_gateway_at(**options) as url``: nginx with every upstream an echo
    server that answers 200 with the client address nginx passed on (X-Real-IP)."""

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"client": request.headers.get("X-Real-IP")})

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", echo)
    server = await aiohttp_server(app)
    upstreams = dict.fromkeys(UPSTREAM_NAMES, f"127.0.0.1:{server.port}")

    def started(**options: Any) -> AbstractAsyncContextManager[str]:
        return running_gateway(tmp_path, upstreams, **options)

    return started


def session_from(address: str) -> aiohttp.ClientSession:
    """A client whose connections come from ``address`` (any 127/8 address is loopback)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0)))


async def posts_at_once(
    url: str, path: str, *, peer: str, forwarded_for: Callable[[int], str | None], count: int
) -> list[tuple[int, str | None]]:
    """``count`` POSTs to ``path`` sent together from ``peer``, the i-th with
    ``X-Forwarded-For: forwarded_for(i)``: each one's status and Retry-After."""
    async with session_from(peer) as http:

        async def attempt(i: int) -> tuple[int, str | None]:
            forwarded = forwarded_for(i)
            headers = {"X-Forwarded-For": forwarded} if forwarded else {}
            response = await http.post(f"{url}{path}", data=b"", headers=headers)
            await response.read()
            return response.status, response.headers.get("Retry-After")

        return await asyncio.gather(*(attempt(i) for i in range(count)))


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "gateway.crt", directory / "gateway.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
async def gateway_url(gateway_at: GatewayFactory) -> AsyncIterator[str]:
    async with gateway_at() as url:
        yield url


async def signins_at_once(url: str, count: int) -> list[tuple[int, Any, str | None]]:
    """``count`` sign-ins sent together: each one's status, body and Retry-After."""
    async with aiohttp.ClientSession() as http:

        async def attempt() -> tuple[int, Any, str | None]:
            response = await http.post(
                f"{url}/api/users/signin", json={"email": "x@y.io", "password": "nope"}
            )
            body = await response.json(content_type=None)
            return response.status, body, response.headers.get("Retry-After")

        return await asyncio.gather(*(attempt() for _ in range(count)))


def test_the_shared_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    upstreams = dict.fromkeys(("AUTH", "TICKETS", "ORDERS", "PAYMENTS", "CLIENT"), "127.0.0.1:9")
    gateway = Gateway(tmp_path, "127.0.0.1:18999", upstreams)

    result = gateway.check()

    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


async def test_a_signup_through_the_gateway_gives_a_cookie_currentuser_accepts(
    gateway_url: str,
) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        signup = await http.post(
            f"{gateway_url}/api/users/signup",
            json={"email": "gw@test.com", "password": "secret-password"},
        )
        current = await http.get(f"{gateway_url}/api/users/currentuser")

        assert signup.status == 201
        assert "session" in signup.cookies
        assert (await current.json())["currentUser"]["email"] == "gw@test.com"
        assert signup.headers["X-Request-Id"]


async def test_the_gateway_keeps_the_error_shape_and_hides_probes(gateway_url: str) -> None:
    async with aiohttp.ClientSession() as http:
        unknown = await http.get(f"{gateway_url}/api/users/nope")
        readyz = await http.get(f"{gateway_url}/readyz")
        down = await http.get(f"{gateway_url}/api/tickets")  # no tickets service here

        assert unknown.status == 404
        assert await unknown.json() == {"errors": [{"message": "Not Found"}]}
        assert readyz.status == 404
        assert down.status == 503
        assert await down.json(content_type=None) == {
            "errors": [{"message": "Service temporarily unavailable"}]
        }


async def test_the_gateway_rate_limits_signin_with_a_429_in_the_error_shape(
    gateway_url: str,
) -> None:
    results = await signins_at_once(gateway_url, 30)

    statuses = [status for status, _, _ in results]
    assert statuses.count(400) >= 10  # the burst gets through to auth
    limited = [(body, retry) for status, body, retry in results if status == 429]
    assert limited
    assert limited[0] == (
        {"errors": [{"message": "Too many requests, try again shortly"}]},
        "1",  # Retry-After: when to try again
    )


async def test_the_sign_in_brake_is_configurable(gateway_at: GatewayFactory) -> None:
    async with gateway_at(auth_rate_per_s=1, auth_burst=2) as url:
        results = await signins_at_once(url, 12)

    # One at the rate, two in the burst; the rest are turned away at once.
    assert sorted(status for status, _, _ in results) == [400] * 3 + [429] * 9


# ---------------------------------------------------------------------------- trusted proxies


async def test_an_untrusted_peers_forwarded_for_is_ignored(
    echo_gateway_at: GatewayFactory,
) -> None:
    async with echo_gateway_at() as url, session_from(UNTRUSTED_PEER) as http:
        response = await http.get(f"{url}/", headers={"X-Forwarded-For": "203.0.113.9"})

        assert (await response.json())["client"] == UNTRUSTED_PEER


async def test_a_trusted_proxy_names_the_client_by_its_last_untrusted_entry(
    echo_gateway_at: GatewayFactory,
) -> None:
    async with echo_gateway_at() as url, session_from(TRUSTED_PEER) as http:
        single = await http.get(f"{url}/", headers={"X-Forwarded-For": "203.0.113.9"})
        # What a browser put in front is not believed: only what the trusted hop added.
        chained = await http.get(
            f"{url}/", headers={"X-Forwarded-For": "198.51.100.66, 203.0.113.9"}
        )

        assert (await single.json())["client"] == "203.0.113.9"
        assert (await chained.json())["client"] == "203.0.113.9"


async def test_the_trusted_proxies_are_configurable(echo_gateway_at: GatewayFactory) -> None:
    async with (
        echo_gateway_at(trusted_proxies=f"10.9.9.9, {UNTRUSTED_PEER}/32") as url,
        session_from(UNTRUSTED_PEER) as untrusted_now_trusted,
        session_from(TRUSTED_PEER) as trusted_no_more,
    ):
        believed = await untrusted_now_trusted.get(
            f"{url}/", headers={"X-Forwarded-For": "203.0.113.9"}
        )
        ignored = await trusted_no_more.get(f"{url}/", headers={"X-Forwarded-For": "203.0.113.9"})

        assert (await believed.json())["client"] == "203.0.113.9"
        assert (await ignored.json())["client"] == TRUSTED_PEER


def test_a_bad_trusted_proxies_value_is_refused(tmp_path: Path) -> None:
    upstreams = dict.fromkeys(UPSTREAM_NAMES, "127.0.0.1:9")
    gateway = Gateway(tmp_path, "127.0.0.1:18999", upstreams, trusted_proxies="10.0.0.0/8; evil")

    with pytest.raises(ValueError, match="GATEWAY_TRUSTED_PROXIES"):
        gateway.check()


async def test_a_forged_forwarded_for_does_not_escape_the_brake(
    echo_gateway_at: GatewayFactory,
) -> None:
    async with echo_gateway_at(auth_rate_per_s=1, auth_burst=2) as url:
        # A new forged address on every request: still keyed by the peer's own.
        forged = await posts_at_once(
            url,
            "/api/users/signin",
            peer=UNTRUSTED_PEER,
            forwarded_for=lambda i: f"203.0.113.{i + 1}",
            count=12,
        )
        # The same addresses forwarded by a trusted proxy: twelve clients, one request each.
        forwarded = await posts_at_once(
            url,
            "/api/users/signin",
            peer=TRUSTED_PEER,
            forwarded_for=lambda i: f"198.51.100.{i + 1}",
            count=12,
        )

    assert sorted(status for status, _ in forged) == [200] * 3 + [429] * 9
    assert [status for status, _ in forwarded] == [200] * 12


# ---------------------------------------------------------------------------- the client's forms


@pytest.mark.parametrize("form", ["/auth/signin", "/auth/signup"])
async def test_the_clients_form_posts_are_braked_per_real_client(
    echo_gateway_at: GatewayFactory, form: str
) -> None:
    async with echo_gateway_at(auth_rate_per_s=1, auth_burst=2) as url:
        one_user = await posts_at_once(
            url, form, peer=TRUSTED_PEER, forwarded_for=lambda _: "203.0.113.7", count=12
        )
        another_user = await posts_at_once(
            url, form, peer=TRUSTED_PEER, forwarded_for=lambda _: "203.0.113.8", count=1
        )

    assert sorted(status for status, _ in one_user) == [200] * 3 + [429] * 9
    assert {retry for status, retry in one_user if status == 429} == {"1"}
    assert another_user == [(200, None)]


async def test_showing_the_sign_in_form_is_not_braked(echo_gateway_at: GatewayFactory) -> None:
    async with (
        echo_gateway_at(auth_rate_per_s=1, auth_burst=2) as url,
        aiohttp.ClientSession() as http,
    ):
        statuses = await asyncio.gather(*(http.get(f"{url}/auth/signin") for _ in range(12)))

    assert [response.status for response in statuses] == [200] * 12


# ---------------------------------------------------------------------------- HSTS


async def test_hsts_is_sent_on_https_only(echo_gateway_at: GatewayFactory, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    tls_port = free_port()
    tls = Tls(listen=f"127.0.0.1:{tls_port}", cert=cert, key=key)
    trust = ssl.create_default_context(cafile=str(cert))

    async with echo_gateway_at(tls=tls) as url, aiohttp.ClientSession() as http:
        secure = await http.get(f"https://127.0.0.1:{tls_port}/healthz", ssl=trust)
        proxied = await http.get(f"https://127.0.0.1:{tls_port}/api/tickets", ssl=trust)
        plain = await http.get(f"{url}/healthz")

        assert secure.status == proxied.status == plain.status == 200
        assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        assert proxied.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        assert "Strict-Transport-Security" not in plain.headers
