"""Cookies for tests: a signed-in user without going through auth (spec §14.1's ``signin``),
and the ``session.revoked`` event auth would publish on signing it out."""

from __future__ import annotations

from typing import Any

import jwt
from bson import ObjectId

from shared.auth.identity import cookie_name, decode_session_cookie, encode_session_cookie
from shared.auth.tokens import TokenSigner
from shared.events import SessionRevoked
from shared.messaging import AmqpSettings
from shared.testing.events import event_publisher


def session_cookie_for_token(token: str, *, secure: bool = False) -> dict[str, str]:
    """A ``cookies=`` mapping carrying this token, exactly as auth would set it."""
    return {cookie_name(secure=secure): encode_session_cookie({"jwt": token})}


def signin_cookie(
    private_key_pem: str, user_id: str | None = None, email: str = "test@test.com"
) -> dict[str, str]:
    """A session for ``user_id`` (a new random user when omitted)."""
    token = TokenSigner(private_key_pem, ttl_s=3600).sign(user_id or str(ObjectId()), email)
    return session_cookie_for_token(token)


def revocation_of(cookies: dict[str, str]) -> SessionRevoked:
    """What auth publishes when the session in ``cookies`` signs out."""
    (value,) = cookies.values()
    data = decode_session_cookie(value)
    assert data is not None, "not a session cookie"
    claims: dict[str, Any] = jwt.decode(data["jwt"], options={"verify_signature": False})
    return SessionRevoked(jti=claims["jti"], user_id=claims["id"], exp=claims["exp"])


async def publish_revocation(
    amqp: AmqpSettings, event: SessionRevoked, *, times: int = 1, message_id: str | None = None
) -> None:
    """Publish ``event`` as auth's outbox relay would (``times`` over: a replay)."""
    async with event_publisher(amqp) as publisher:
        for _ in range(times):
            await publisher.publish_event(event, message_id=message_id)
