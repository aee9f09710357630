"""The ``session`` cookie, the ``current_user`` middleware and ``require_auth``.

The cookie holds ``{"jwt": <token>}`` as percent-encoded base64 JSON, unsigned (the JWT
inside is what is tamper-proof) — the original's format, so any language can read it.
It is HttpOnly, SameSite=Lax, and Secure unless ``COOKIE_SECURE=false``.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from aiohttp_session import AbstractStorage, Session, get_session, new_session
from aiohttp_session import session_middleware as _aiohttp_session_middleware

from shared.auth.tokens import Claims, TokenVerifier
from shared.config import Env
from shared.errors import NotAuthorized

COOKIE_NAME = "session"
CurrentUser = Claims
CURRENT_USER = web.RequestKey[Claims | None]("current_user")


@dataclass(frozen=True)
class IdentitySettings:
    jwt_public_key: str
    cookie_secure: bool = True

    @classmethod
    def from_env(cls, env: Env) -> IdentitySettings:
        return cls(
            jwt_public_key=env.pem("JWT_PUBLIC_KEY"),
            cookie_secure=env.bool("COOKIE_SECURE", True),
        )


class JwtCookieStorage(AbstractStorage):
    """aiohttp-session storage for the original's cookie format."""

    def __init__(self, *, secure: bool) -> None:
        super().__init__(
            cookie_name=COOKIE_NAME, path="/", secure=secure, httponly=True, samesite="Lax"
        )

    async def load_session(self, request: web.Request) -> Session:
        raw = self.load_cookie(request)
        data = decode_session_cookie(raw) if raw else None
        if data is None:
            return Session(None, data=None, new=True)
        return Session(None, data={"session": data}, new=False)

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        if session.empty:
            # Keep the same attributes on the deletion so browsers match the cookie.
            response.del_cookie(
                COOKIE_NAME,
                path="/",
                secure=bool(self.cookie_params.get("secure")),
                httponly=True,
                samesite="Lax",
            )
            return
        self.save_cookie(response, encode_session_cookie(dict(session)))


def encode_session_cookie(data: dict[str, Any]) -> str:
    raw = base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()
    return quote(raw, safe="")


def decode_session_cookie(value: str) -> dict[str, Any] | None:
    try:
        data = json.loads(base64.b64decode(unquote(value), validate=True))
    except (binascii.Error, ValueError):
        return None
    return data if isinstance(data, dict) else None


def session_middleware(settings: IdentitySettings) -> Middleware:
    """aiohttp-session's middleware over the ``session`` cookie."""
    return _aiohttp_session_middleware(JwtCookieStorage(secure=settings.cookie_secure))


def current_user_middleware(verifier: TokenVerifier) -> Middleware:
    """Sets ``request[CURRENT_USER]`` to the verified claims or None; never rejects."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        session = await get_session(request)
        token = session.get("jwt")
        request[CURRENT_USER] = verifier.verify(token) if isinstance(token, str) else None
        return await handler(request)

    return middleware


def identity_middlewares(settings: IdentitySettings) -> list[Middleware]:
    """Every API service's pair, in order: the session cookie, then the current user."""
    verifier = TokenVerifier(settings.jwt_public_key)
    return [session_middleware(settings), current_user_middleware(verifier)]


def current_user(request: web.Request) -> CurrentUser | None:
    return request.get(CURRENT_USER)


def require_auth(request: web.Request) -> CurrentUser:
    """The signed-in user, or 401 ``Not Authorized``."""
    user = current_user(request)
    if user is None:
        raise NotAuthorized()
    return user


async def sign_in(request: web.Request, token: str) -> None:
    """Start a fresh session holding the token (a new session defeats fixation)."""
    session = await new_session(request)
    session["jwt"] = token


async def sign_out(request: web.Request) -> None:
    session = await get_session(request)
    session.invalidate()
