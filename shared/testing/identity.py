"""Cookies for tests: a signed-in user without going through auth (spec §14.1's ``signin``)."""

from __future__ import annotations

from bson import ObjectId

from shared.auth.identity import COOKIE_NAME, encode_session_cookie
from shared.auth.tokens import TokenSigner


def session_cookie_for_token(token: str) -> dict[str, str]:
    """A ``cookies=`` mapping carrying this token, exactly as auth would set it."""
    return {COOKIE_NAME: encode_session_cookie({"jwt": token})}


def signin_cookie(
    private_key_pem: str, user_id: str | None = None, email: str = "test@test.com"
) -> dict[str, str]:
    """A session for ``user_id`` (a new random user when omitted)."""
    token = TokenSigner(private_key_pem, ttl_s=3600).sign(user_id or str(ObjectId()), email)
    return session_cookie_for_token(token)
