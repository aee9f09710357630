"""Revocable sessions: token ids, the denylist and its collection, the session.revoked
contract, the cache of verified tokens, and the session cookie's name."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from bson import ObjectId
from cryptography.hazmat.primitives import serialization

from shared.auth import (
    IdentitySettings,
    RevocationStore,
    RevokedSessions,
    TokenSigner,
    TokenVerifier,
    current_user,
    identity_middlewares,
    start_session,
)
from shared.auth.identity import (
    COOKIE_NAME,
    CookieTokens,
    current_user_middleware,
    encode_session_cookie,
    identify,
    token_in_cookie,
)
from shared.auth.revocation import COLLECTION, denylist_kept_fresh
from shared.auth.tokens import ALGORITHM, AUDIENCE, ISSUER, LEEWAY_S, Claims, VerifiedTokens
from shared.config import ConfigError, Env
from shared.events import MalformedEvent, SessionRevoked, decode, encode
from shared.mongo import Mongo
from shared.testing.identity import session_cookie_for_token
from shared.testing.poll import eventually
from shared.web import HttpSettings, base_app

Client = TestClient[Any, Any]
USER = "5fd843a29fc5e30023bd790b"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------- tokens


def test_every_token_carries_a_fresh_128_bit_jti(jwt_keys: tuple[str, str]) -> None:
    signer, verifier = TokenSigner(jwt_keys[0], ttl_s=60), TokenVerifier(jwt_keys[1])

    first, second = (verifier.verify(signer.sign(USER, "a@b.io")) for _ in range(2))

    assert first is not None
    assert second is not None
    assert first.jti != second.jti
    assert len(base64.urlsafe_b64decode(first.jti + "==")) * 8 >= 128


def test_a_token_without_a_jti_is_refused(jwt_keys: tuple[str, str]) -> None:
    # As auth minted them before sessions were revocable: such a token could not be revoked.
    key = serialization.load_pem_private_key(jwt_keys[0].encode(), password=None)
    now = int(time.time())
    claims = {"id": USER, "email": "a@b.io", "iat": now, "exp": now + 60}
    legacy = jwt.encode({**claims, "iss": ISSUER, "aud": AUDIENCE}, key, algorithm=ALGORITHM)  # type: ignore[arg-type]

    assert TokenVerifier(jwt_keys[1]).verify(legacy) is None


def test_a_revoked_token_identifies_nobody(jwt_keys: tuple[str, str]) -> None:
    token = TokenSigner(jwt_keys[0], ttl_s=60).sign(USER, "a@b.io")
    verifier, denylist = TokenVerifier(jwt_keys[1]), RevokedSessions()
    claims = identify(token, verifier, denylist)
    assert claims is not None

    denylist.add(claims.jti, time.time() + 60)

    assert identify(token, verifier, denylist) is None


# ---------------------------------------------------------------- the in-memory denylist


def test_an_entry_lapses_at_its_time() -> None:
    clock = Clock(1000.0)
    denylist = RevokedSessions(clock)
    denylist.add("jti-a", 1010.0)

    assert denylist.is_revoked("jti-a")
    assert not denylist.is_revoked("jti-b")
    clock.now = 1010.0
    assert not denylist.is_revoked("jti-a")


def test_replacing_keeps_only_entries_still_in_force() -> None:
    clock = Clock(1000.0)
    denylist = RevokedSessions(clock)
    denylist.add("gone-from-the-store", 2000.0)

    denylist.replace({"live": 1001.0, "lapsed": 999.0})

    assert (denylist.is_revoked("live"), len(denylist)) == (True, 1)
    assert not denylist.is_revoked("gone-from-the-store")


# ---------------------------------------------------------------- the collection


def revoked(exp: int, jti: str | None = None) -> SessionRevoked:
    return SessionRevoked(jti=jti or ObjectId().binary.hex() + "ab", user_id=USER, exp=exp)


async def test_recording_a_revocation_twice_keeps_one_entry(mongo: Mongo) -> None:
    store = RevocationStore(mongo.db)
    await store.ensure_indexes()
    event = revoked(int(time.time()) + 600)

    await store.add(event)
    await store.add(event)

    assert await mongo.db[COLLECTION].count_documents({}) == 1
    assert await store.active() == {event.jti: float(event.exp + LEEWAY_S)}


async def test_a_revocation_of_an_expired_token_is_accepted_and_never_active(
    mongo: Mongo,
) -> None:
    store = RevocationStore(mongo.db)
    await store.ensure_indexes()
    live, expired = revoked(int(time.time()) + 600), revoked(int(time.time()) - 3600)

    await store.add(expired)
    await store.add(live)

    assert set(await store.active()) == {live.jti}


async def test_the_collection_expires_entries_by_ttl_index(mongo: Mongo) -> None:
    await RevocationStore(mongo.db).ensure_indexes()

    indexes = await mongo.db[COLLECTION].index_information()

    assert indexes["expires_ttl"]["key"] == [("expires_at", 1)]
    assert indexes["expires_ttl"]["expireAfterSeconds"] == 0


async def test_the_denylist_follows_the_collection_a_process_started_later_included(
    mongo: Mongo,
) -> None:
    written_before = revoked(int(time.time()) + 600)
    await RevocationStore(mongo.db).add(written_before)
    denylist = RevokedSessions()

    async with denylist_kept_fresh(mongo.db, denylist, interval_s=0.05) as store:
        assert denylist.is_revoked(written_before.jti)  # loaded before the block starts
        written_after = revoked(int(time.time()) + 600)
        await store.add(written_after)
        await eventually(lambda: denylist.is_revoked(written_after.jti), what="refreshed")


# ---------------------------------------------------------------- the contract


def test_session_revoked_is_jti_user_id_and_exp_on_the_wire() -> None:
    event = SessionRevoked(jti="Qk9n3l6kQ2mYvQ3a0Zk1hQ", user_id=USER, exp=1768583790)

    assert json.loads(encode(event)) == {
        "jti": "Qk9n3l6kQ2mYvQ3a0Zk1hQ",
        "userId": USER,
        "exp": 1768583790,
    }
    assert decode("session.revoked", encode(event)) == event


@pytest.mark.parametrize(
    "change",
    [
        {"jti": ""},
        {"jti": "short"},
        {"jti": "has spaces in it, not base64url"},
        {"jti": 12345678901234567890},
        {"userId": "u1"},
        {"userId": "5FD843A29FC5E30023BD790B"},
        {"exp": "1768583790"},
        {"exp": True},
        {"exp": 1768583790.5},
        {"exp": 0},
        {"exp": 10**12},
    ],
    ids=repr,
)
def test_a_malformed_session_revoked_is_refused(change: dict[str, object]) -> None:
    wire = {"jti": "Qk9n3l6kQ2mYvQ3a0Zk1hQ", "userId": USER, "exp": 1768583790, **change}

    with pytest.raises(MalformedEvent):
        decode("session.revoked", json.dumps(wire).encode())


# ---------------------------------------------------------------- settings


def test_the_refresh_interval_is_a_setting() -> None:
    base = {"JWT_PUBLIC_KEY": "pem"}
    assert IdentitySettings.from_env(Env(base)).revocation_refresh_s == 1.0
    env = Env({**base, "REVOCATION_REFRESH_SECONDS": "0.25"})
    assert IdentitySettings.from_env(env).revocation_refresh_s == 0.25
    for bad in ("0", "-1", "61"):
        with pytest.raises(ConfigError, match="REVOCATION_REFRESH_SECONDS"):
            IdentitySettings.from_env(Env({**base, "REVOCATION_REFRESH_SECONDS": bad}))


# ---------------------------------------------------------------- the cookie's name


def identity_app(public_key: str, token: str, *, secure: bool) -> web.Application:
    settings = IdentitySettings(jwt_public_key=public_key, cookie_secure=secure)
    app = base_app(HttpSettings(), identity_middlewares(settings, RevokedSessions()))

    async def signin(request: web.Request) -> web.Response:
        await start_session(request, token)
        return web.json_response({})

    async def whoami(request: web.Request) -> web.Response:
        user = current_user(request)
        return web.json_response({"id": user.id if user else None})

    app.router.add_post("/signin", signin)
    app.router.add_get("/whoami", whoami)
    return app


@pytest.fixture
def token(jwt_keys: tuple[str, str]) -> str:
    return TokenSigner(jwt_keys[0], ttl_s=60).sign(USER, "a@b.io")


async def test_a_secure_cookie_is_named_with_the_host_prefix_and_read_back(
    aiohttp_client: Callable[..., Awaitable[Client]], jwt_keys: tuple[str, str], token: str
) -> None:
    client = await aiohttp_client(identity_app(jwt_keys[1], token, secure=True))

    set_cookie = (await client.post("/signin")).headers["Set-Cookie"]

    assert set_cookie.startswith("__Host-session=")
    attributes = [part.strip().lower() for part in set_cookie.split(";")[1:]]
    assert "secure" in attributes
    assert "path=/" in attributes
    assert not any(part.startswith("domain") for part in attributes)
    secure = session_cookie_for_token(token, secure=True)
    whoami = await client.get("/whoami", cookies=secure)
    assert await whoami.json() == {"id": USER}
    # The unprefixed name is not read: it could have been planted by a sibling subdomain.
    plain = await client.get("/whoami", cookies=session_cookie_for_token(token))
    assert await plain.json() == {"id": None}


async def test_an_insecure_cookie_keeps_the_plain_name(
    aiohttp_client: Callable[..., Awaitable[Client]], jwt_keys: tuple[str, str], token: str
) -> None:
    client = await aiohttp_client(identity_app(jwt_keys[1], token, secure=False))

    set_cookie = (await client.post("/signin")).headers["Set-Cookie"]

    assert set_cookie.startswith("session=")
    assert "secure" not in set_cookie.lower()
    whoami = await client.get("/whoami", cookies=session_cookie_for_token(token))
    assert await whoami.json() == {"id": USER}


# ---------------------------------------------------------------- verified tokens, cached


class CountingVerifier(TokenVerifier):
    """The real verifier, counting the tokens it checks."""

    def __init__(self, public_key_pem: str) -> None:
        super().__init__(public_key_pem)
        self.checked: list[str] = []

    def verify(self, token: str) -> Claims | None:
        self.checked.append(token)
        return super().verify(token)


def sign(private_key: str, *, now: float | None = None, ttl_s: int = 60) -> str:
    return TokenSigner(private_key, ttl_s=ttl_s).sign(USER, "a@b.io", now=now)


def test_a_token_is_verified_once_then_remembered(jwt_keys: tuple[str, str]) -> None:
    verifier = CountingVerifier(jwt_keys[1])
    tokens = VerifiedTokens(verifier)
    token = sign(jwt_keys[0])

    first, second = tokens.verify(token), tokens.verify(token)

    assert first is not None
    assert first == second
    assert first.id == USER
    assert verifier.checked == [token]


def test_a_remembered_token_is_refused_from_its_expiry_plus_the_leeway(
    jwt_keys: tuple[str, str],
) -> None:
    issued = time.time()
    token = sign(jwt_keys[0], now=issued, ttl_s=60)
    exp = int(issued) + 60
    clock = Clock(issued)
    verifier = CountingVerifier(jwt_keys[1])
    tokens = VerifiedTokens(verifier, clock=clock)
    assert tokens.verify(token) is not None

    clock.now = exp + LEEWAY_S - 0.001
    assert tokens.verify(token) is not None
    clock.now = exp + LEEWAY_S
    # The verifier (on the real clock) still takes it: the refusal is the cache's own.
    assert verifier.verify(token) is not None
    assert tokens.verify(token) is None
    assert len(tokens) == 0


def test_a_refused_token_is_not_remembered(jwt_keys: tuple[str, str]) -> None:
    verifier = CountingVerifier(jwt_keys[1])
    tokens = VerifiedTokens(verifier)
    expired = sign(jwt_keys[0], now=time.time() - 3600, ttl_s=60)

    assert tokens.verify("not.a.token") is None
    assert tokens.verify(expired) is None
    assert tokens.verify(expired) is None

    assert len(tokens) == 0
    assert verifier.checked == ["not.a.token", expired, expired]


def test_at_most_size_tokens_are_kept_the_least_recently_used_leaving_first(
    jwt_keys: tuple[str, str],
) -> None:
    verifier = CountingVerifier(jwt_keys[1])
    tokens = VerifiedTokens(verifier, size=3)
    first, second, third, fourth = (sign(jwt_keys[0]) for _ in range(4))
    for token in (first, second, third):
        tokens.verify(token)
    tokens.verify(first)  # now the most recently used

    tokens.verify(fourth)

    assert len(tokens) == 3
    verifier.checked.clear()
    for token in (first, third, fourth, second):
        assert tokens.verify(token) is not None
    assert verifier.checked == [second]  # the one that left, verified again


def test_a_remembered_token_is_refused_the_moment_its_jti_is_listed(
    jwt_keys: tuple[str, str],
) -> None:
    tokens, denylist = VerifiedTokens(TokenVerifier(jwt_keys[1])), RevokedSessions()
    token = sign(jwt_keys[0])
    claims = identify(token, tokens, denylist)
    assert claims is not None
    assert len(tokens) == 1

    denylist.add(claims.jti, until=time.time() + 60)

    assert identify(token, tokens, denylist) is None
    # The refresh from the collection lists it as well: still refused.
    denylist.replace({claims.jti: time.time() + 60})
    assert identify(token, tokens, denylist) is None


def whoami_app(public_key: str, denylist: RevokedSessions) -> web.Application:
    settings = IdentitySettings(jwt_public_key=public_key, cookie_secure=False)
    app = base_app(HttpSettings(), identity_middlewares(settings, denylist))

    async def whoami(request: web.Request) -> web.Response:
        user = current_user(request)
        return web.json_response({"id": user.id if user else None})

    app.router.add_get("/whoami", whoami)
    return app


async def test_requests_after_a_revocation_are_signed_out_though_the_token_was_cached(
    aiohttp_client: Callable[..., Awaitable[Client]], jwt_keys: tuple[str, str]
) -> None:
    denylist = RevokedSessions()
    client = await aiohttp_client(whoami_app(jwt_keys[1], denylist))
    token = sign(jwt_keys[0])
    cookies = session_cookie_for_token(token)
    claims = TokenVerifier(jwt_keys[1]).verify(token)
    assert claims is not None

    async def who() -> object:
        response = await client.get("/whoami", cookies=cookies)
        return (await response.json())["id"]

    # Many requests in flight fill the cache; the revocation lands while they run, and
    # every request that starts after it is refused, however warm the cache is.
    before = [asyncio.create_task(who()) for _ in range(20)]
    assert await before[0] == USER
    denylist.add(claims.jti, until=time.time() + 60)
    after = await asyncio.gather(*(who() for _ in range(20)))

    assert after == [None] * 20
    assert set(await asyncio.gather(*before[1:])) <= {USER, None}


async def test_reading_who_is_signed_in_leaves_the_session_cookie_alone(
    aiohttp_client: Callable[..., Awaitable[Client]], jwt_keys: tuple[str, str]
) -> None:
    client = await aiohttp_client(whoami_app(jwt_keys[1], RevokedSessions()))
    token = sign(jwt_keys[0])

    response = await client.get("/whoami", cookies=session_cookie_for_token(token))

    assert (await response.json())["id"] == USER
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    "value",
    [
        "",
        "%%%",
        base64.b64encode(b"[1, 2]").decode(),
        base64.b64encode(json.dumps({"jwt": 42}).encode()).decode(),
        base64.b64encode(json.dumps({"other": "x"}).encode()).decode(),
    ],
)
def test_a_cookie_without_a_token_string_holds_no_token(value: str) -> None:
    assert token_in_cookie(value) is None


def test_the_token_in_a_cookie_is_read_back(jwt_keys: tuple[str, str]) -> None:
    token = sign(jwt_keys[0])
    (value,) = session_cookie_for_token(token).values()

    assert token_in_cookie(value) == token
    assert token_in_cookie(value) == token


async def test_only_the_cookies_of_accepted_tokens_are_remembered(
    aiohttp_client: Callable[..., Awaitable[Client]], jwt_keys: tuple[str, str]
) -> None:
    cookies = CookieTokens()
    verifier = VerifiedTokens(TokenVerifier(jwt_keys[1]))
    middleware = current_user_middleware(
        verifier, RevokedSessions(), cookie=COOKIE_NAME, cookies=cookies
    )
    app = web.Application(middlewares=[middleware])

    async def whoami(request: web.Request) -> web.Response:
        user = current_user(request)
        return web.json_response({"id": user.id if user else None})

    app.router.add_get("/whoami", whoami)
    client = await aiohttp_client(app)
    token = sign(jwt_keys[0])

    async def who(value: str) -> object:
        response = await client.get("/whoami", cookies={COOKIE_NAME: value})
        return (await response.json())["id"]

    made_up = [encode_session_cookie({"jwt": f"x{n}" * 500}) for n in range(20)]
    padded = [encode_session_cookie({"jwt": token, "pad": "y" * n}) for n in range(20)]
    assert [await who(value) for value in made_up] == [None] * 20
    assert [await who(value) for value in padded] == [USER] * 20  # accepted, not kept
    assert len(cookies) == 0

    (real,) = session_cookie_for_token(token).values()
    assert [await who(real) for _ in range(3)] == [USER] * 3
    assert len(cookies) == 1
    assert cookies.token(real) == token


def test_remembered_cookies_are_bounded_oldest_leaving_first(jwt_keys: tuple[str, str]) -> None:
    cookies = CookieTokens(size=2)
    tokens = [sign(jwt_keys[0]) for _ in range(3)]
    values = [encode_session_cookie({"jwt": token}) for token in tokens]

    for value, token in zip(values, tokens, strict=True):
        cookies.keep(value, token)

    assert len(cookies) == 2
    assert [cookies.token(value) for value in values] == tokens  # the first is decoded again
