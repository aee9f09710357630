"""auth's use cases. Each takes its dependencies; none builds them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from services.auth.adapters.revocations import RevocationLog
from services.auth.adapters.users import UserRepository
from services.auth.domain import (
    DECOY_HASH,
    InvalidCredentials,
    User,
    hash_password,
    normalize_email,
    password_matches,
)
from shared.auth import CurrentUser, TokenSigner
from shared.events import SessionRevoked

T = TypeVar("T")


@dataclass(frozen=True)
class Deps:
    users: UserRepository
    signer: TokenSigner
    revocations: RevocationLog


@dataclass(frozen=True)
class SignedIn:
    user: User
    token: str


async def _off_loop(fn: Callable[..., T], *args: str) -> T:
    # scrypt is deliberately slow; keep it off the event loop.
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


async def sign_up(email: str, password: str, *, deps: Deps) -> SignedIn:
    """Create an account and a token for it; ``EmailInUse`` if the email is taken."""
    password_hash = await _off_loop(hash_password, password)
    user = await deps.users.add(normalize_email(email), password_hash)
    return SignedIn(user=user, token=deps.signer.sign(user.id, user.email))


async def sign_in(email: str, password: str, *, deps: Deps) -> SignedIn:
    """A token for valid credentials; ``InvalidCredentials`` for anything else."""
    user = await deps.users.by_email(normalize_email(email))
    ok = await _off_loop(password_matches, password, user.password_hash if user else DECOY_HASH)
    if user is None or not ok:
        raise InvalidCredentials()
    return SignedIn(user=user, token=deps.signer.sign(user.id, user.email))


async def sign_out(user: CurrentUser | None, *, deps: Deps) -> None:
    """Revoke the session's token in every service; without a valid session, nothing to do."""
    if user is None:
        return
    await deps.revocations.revoke(SessionRevoked(jti=user.jti, user_id=user.id, exp=user.exp))
