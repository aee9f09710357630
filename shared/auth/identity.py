"""The session cookie, the ``current_user`` middleware and ``require_auth``.

The cookie holds ``{"jwt": <token>}`` as percent-encoded base64 JSON, unsigned (the JWT
inside is what is tamper-proof) — the original's format, so any language can read it.
It is HttpOnly, SameSite=Lax, and Secure unless ``COOKIE_SECURE=false``. Secure, it is
named ``__Host-session``: browsers then refuse it unless it is Secure, has Path=/ and no
Domain, so neither a sibling subdomain nor a plain-http page can plant or shadow it. Over
plain http (local stacks) it stays ``session``, since browsers drop Secure cookies there.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from aiohttp_session import AbstractStorage, Session, get_session, new_session
from aiohttp_session import session_middleware as _aiohttp_session_middleware

from shared.auth.revocation import Denylist, RevokedSessions
from shared.auth.tokens import VERIFIED_TOKENS_KEPT, Claims, TokenVerifier, VerifiedTokens
from shared.config import ConfigError, Env
from shared.errors import NotAuthorized

COOKIE_NAME = "session"
SECURE_COOKIE_NAME = f"__Host-{COOKIE_NAME}"
CurrentUser = Claims
CURRENT_USER = web.RequestKey[Claims | None]("current_user")
# The app's denylist: given to the middleware at creation, refreshed once the database is up.
REVOKED_SESSIONS = web.AppKey("revoked_sessions", RevokedSessions)


@dataclass(frozen=True)
class IdentitySettings:
    jwt_public_key: str
    cookie_secure: bool = True
    # How stale a process' copy of the revoked sessions may be: a signed-out token keeps
    # working for at most about this long (plus the event's trip) on other replicas.
    revocation_refresh_s: float = 1.0

    @classmethod
    def from_env(cls, env: Env) -> IdentitySettings:
        refresh_s = env.float("REVOCATION_REFRESH_SECONDS", cls.revocation_refresh_s)
        if not 0 < refresh_s <= 60:
            raise ConfigError(
                f"REVOCATION_REFRESH_SECONDS must be above 0 and at most 60, got {refresh_s}"
            )
        return cls(
            jwt_public_key=env.pem("JWT_PUBLIC_KEY"),
            cookie_secure=env.bool("COOKIE_SECURE", True),
            revocation_refresh_s=refresh_s,
        )

    @property
    def cookie_name(self) -> str:
        return cookie_name(secure=self.cookie_secure)


def cookie_name(*, secure: bool) -> str:
    """``__Host-session`` when the cookie is Secure, else ``session``."""
    return SECURE_COOKIE_NAME if secure else COOKIE_NAME


class JwtCookieStorage(AbstractStorage):
    """aiohttp-session storage for the original's cookie format."""

    def __init__(self, *, secure: bool) -> None:
        # No domain, ever: a `__Host-` cookie with one is refused by the browser.
        super().__init__(
            cookie_name=cookie_name(secure=secure),
            path="/",
            secure=secure,
            httponly=True,
            samesite="Lax",
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
                self.cookie_name,
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
    """aiohttp-session's middleware over the session cookie."""
    return _aiohttp_session_middleware(JwtCookieStorage(secure=settings.cookie_secure))


def identify(
    token: object, verifier: TokenVerifier | VerifiedTokens, denylist: Denylist
) -> Claims | None:
    """The claims of a valid token that was not signed out, else None. The one place a
    revoked session becomes "nobody", in every service."""
    claims = verifier.verify(token) if isinstance(token, str) else None
    if claims is None or denylist.is_revoked(claims.jti):
        return None
    return claims


def token_in_cookie(value: str) -> object:
    """The ``jwt`` a session cookie holds (not yet verified), or None: the cookie's value
    read as ``JwtCookieStorage.load_session`` reads it."""
    data = decode_session_cookie(value)
    token = data.get("jwt") if data is not None else None
    return token if isinstance(token, str) else None


class CookieTokens:
    """``token_in_cookie`` remembered for the cookies of real sessions, since a browser
    sends the same one on every request.

    The cookie is the caller's to choose, so only one that ``keep`` is told was accepted,
    and that is exactly the cookie ``start_session`` writes for its token, is remembered:
    a made-up cookie is decoded on each request and never kept, and a valid token cannot
    be padded (other keys, other spellings) into many entries. At most ``size`` cookies
    (one per signed-in token, about a kilobyte each) are kept, the least recently used one
    leaving first.
    """

    def __init__(self, size: int = VERIFIED_TOKENS_KEPT) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self._size = size
        self._kept: OrderedDict[str, str] = OrderedDict()

    def token(self, value: str) -> object:
        kept = self._kept.get(value)
        if kept is None:
            return token_in_cookie(value)
        self._kept.move_to_end(value)
        return kept

    def keep(self, value: str, token: str) -> None:
        """Remember ``value`` as holding ``token``, which was verified (and not revoked)."""
        if value in self._kept or value != encode_session_cookie({"jwt": token}):
            return
        self._kept[value] = token
        if len(self._kept) > self._size:
            self._kept.popitem(last=False)

    def __len__(self) -> int:
        return len(self._kept)


def current_user_middleware(
    verifier: TokenVerifier | VerifiedTokens,
    denylist: Denylist,
    *,
    cookie: str,
    cookies: CookieTokens | None = None,
) -> Middleware:
    """Sets ``request[CURRENT_USER]`` to the verified claims or None; never rejects.

    It reads the session cookie itself instead of loading the aiohttp-session: a request
    that only reads who is signed in then costs the session middleware nothing (it saves
    only a session someone loaded). Signing in and out still go through the session.
    """
    cookies = cookies if cookies is not None else CookieTokens()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        value = request.cookies.get(cookie)
        token = cookies.token(value) if value else None
        user = identify(token, verifier, denylist)
        if user is not None and value and isinstance(token, str):
            cookies.keep(value, token)
        request[CURRENT_USER] = user
        return await handler(request)

    return middleware


def identity_middlewares(settings: IdentitySettings, denylist: Denylist) -> list[Middleware]:
    """Every API service's pair, in order: the session cookie, then the current user.

    ``denylist`` is required so that no service can forget to honour sign-outs. Verified
    tokens are remembered (``VerifiedTokens``); the denylist is still asked every time.
    """
    verifier = VerifiedTokens(TokenVerifier(settings.jwt_public_key))
    return [
        session_middleware(settings),
        current_user_middleware(verifier, denylist, cookie=settings.cookie_name),
    ]


def current_user(request: web.Request) -> CurrentUser | None:
    return request.get(CURRENT_USER)


def require_auth(request: web.Request) -> CurrentUser:
    """The signed-in user, or 401 ``Not Authorized``."""
    user = current_user(request)
    if user is None:
        raise NotAuthorized()
    return user


async def start_session(request: web.Request, token: str) -> None:
    """Start a fresh session holding the token: the session cookie of the response (a new
    session defeats fixation). Checking who signs in is the caller's (auth's use case)."""
    session = await new_session(request)
    session["jwt"] = token


async def sign_out(request: web.Request) -> None:
    session = await get_session(request)
    session.invalidate()
