import hashlib
import hmac
import json
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.auth.api.schemas import CurrentUserEnvelopeOut
from services.auth.tests.conftest import Client, signup
from shared.auth import TokenSigner
from shared.auth.tokens import Claims
from shared.testing.identity import session_cookie_for_token


async def current(client: Client, token: str | None = None) -> object:
    cookies = session_cookie_for_token(token) if token else None
    response = await client.get("/api/users/currentuser", cookies=cookies)
    assert response.status == 200
    return (await response.json())["currentUser"]


async def test_currentuser_responds_with_the_signed_in_users_details(client: Client) -> None:
    created = await (await signup(client)).json()

    user = await client.get("/api/users/currentuser")

    body = (await user.json())["currentUser"]
    assert body["email"] == "test@test.com"
    assert body["id"] == created["id"]
    assert body["exp"] > body["iat"] >= int(time.time()) - 5


async def test_currentuser_is_null_when_not_signed_in(client: Client) -> None:
    assert await current(client) is None


async def test_currentuser_is_null_for_a_tampered_token(
    client: Client, jwt_keys: tuple[str, str]
) -> None:
    token = TokenSigner(jwt_keys[0], ttl_s=60).sign("a" * 24, "test@test.com")
    header, _payload, signature = token.split(".")
    forged = jwt.utils.base64url_encode(b'{"id":"b","email":"x@y.z","iat":1,"exp":9999999999}')

    assert await current(client, f"{header}.{forged.decode()}.{signature}") is None


async def test_currentuser_is_null_for_an_expired_token(
    client: Client, jwt_keys: tuple[str, str]
) -> None:
    token = TokenSigner(jwt_keys[0], ttl_s=60).sign("a" * 24, "t@t.io", now=time.time() - 3600)

    assert await current(client, token) is None


async def test_currentuser_is_null_for_an_alg_none_token(client: Client) -> None:
    payload = {"id": "a" * 24, "email": "t@t.io", "iat": int(time.time()), "exp": 2**40}
    token = jwt.encode(payload, key="", algorithm="none")

    assert await current(client, token) is None


async def test_currentuser_is_null_for_a_token_signed_by_another_key(client: Client) -> None:
    other = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    token = TokenSigner(other.decode(), ttl_s=60).sign("a" * 24, "t@t.io")

    assert await current(client, token) is None


async def test_currentuser_is_null_for_an_hs256_token_keyed_with_the_public_key(
    client: Client, jwt_keys: tuple[str, str]
) -> None:
    # The classic algorithm-confusion attack: HMAC "signed" with the public key text.
    header = jwt.utils.base64url_encode(b'{"alg":"HS256","typ":"JWT"}')
    payload = jwt.utils.base64url_encode(
        json.dumps(
            {"id": "a" * 24, "email": "t@t.io", "iat": int(time.time()), "exp": 2**40}
        ).encode()
    )
    signing_input = header + b"." + payload
    mac = hmac.new(jwt_keys[1].encode(), signing_input, hashlib.sha256).digest()
    token = (signing_input + b"." + jwt.utils.base64url_encode(mac)).decode()

    assert await current(client, token) is None


async def test_currentuser_is_null_for_a_garbage_cookie(client: Client) -> None:
    response = await client.get("/api/users/currentuser", cookies={"session": "%%%not-base64"})

    assert response.status == 200
    assert (await response.json())["currentUser"] is None


def signed(private_pem: str, **claims: object) -> str:
    """A token with exactly ``claims``, properly signed with auth's key."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return jwt.encode(claims, key, algorithm="EdDSA")  # type: ignore[arg-type]


async def test_currentuser_is_null_for_a_token_of_another_issuer_or_audience(
    client: Client, jwt_keys: tuple[str, str]
) -> None:
    now = int(time.time())
    good = {"id": "a" * 24, "email": "t@t.io", "iat": now, "exp": now + 60, "jti": "j" * 22}
    right = {"iss": "ticketing-auth", "aud": "ticketing"}

    assert await current(client, signed(jwt_keys[0], **good, **right)) is not None
    without_jti = {k: v for k, v in {**good, **right}.items() if k != "jti"}
    for claims in (
        good,  # no iss, no aud: a token minted before they existed, or elsewhere
        without_jti,  # minted before sessions were revocable: sign-out could not revoke it
        {**good, **right, "iss": "someone-else"},
        {**good, **right, "aud": "another-system"},
    ):
        assert await current(client, signed(jwt_keys[0], **claims)) is None, claims


async def test_currentuser_answers_the_documented_shape(client: Client) -> None:
    await signup(client)

    signed_in = await (await client.get("/api/users/currentuser")).json()
    client.session.cookie_jar.clear()
    signed_out = await (await client.get("/api/users/currentuser")).json()

    claims = signed_in["currentUser"]
    assert CurrentUserEnvelopeOut().dump({"currentUser": Claims(**claims, jti="j")}) == signed_in
    assert (
        CurrentUserEnvelopeOut().dump({"currentUser": None}) == signed_out == {"currentUser": None}
    )
