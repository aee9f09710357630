"""auth's use cases. Each takes its dependencies (ports only); none builds them."""

from __future__ import annotations

from dataclasses import dataclass

from services.auth.domain import MAX_PASSWORD_CHARS, InvalidCredentials, User, normalize_email
from services.auth.ports import Hasher, RevocationLog, Signer, UserRepository
from shared.auth import CurrentUser
from shared.events import SessionRevoked


@dataclass(frozen=True)
class Deps:
    users: UserRepository
    signer: Signer
    revocations: RevocationLog
    hasher: Hasher


@dataclass(frozen=True)
class Credentials:
    """A sign-up or sign-in body, loaded."""

    email: str
    password: str


@dataclass(frozen=True)
class SignedIn:
    user: User
    token: str


async def sign_up(email: str, password: str, *, deps: Deps) -> SignedIn:
    """Create an account and a token for it; ``EmailInUse`` if the email is taken."""
    password_hash = await deps.hasher.hash(password)
    user = await deps.users.add(normalize_email(email), password_hash)
    return SignedIn(user=user, token=deps.signer.sign(user.id, user.email))


async def sign_in(email: str, password: str, *, deps: Deps) -> SignedIn:
    """A token for valid credentials; ``InvalidCredentials`` for anything else."""
    if len(password) > MAX_PASSWORD_CHARS:
        # Sign-up never took one this long: wrong, without a megabyte to hash.
        raise InvalidCredentials()
    user = await deps.users.by_email(normalize_email(email))
    check = await deps.hasher.check(password, user.password_hash if user else None)
    if user is None or not check.matches:
        raise InvalidCredentials()
    if check.rehashed:
        # An outdated hash (the legacy layout, another cost) is replaced while we have the
        # password; the next sign-in checks the new one.
        await deps.users.replace_password_hash(user.id, user.password_hash, check.rehashed)
    return SignedIn(user=user, token=deps.signer.sign(user.id, user.email))


async def sign_out(user: CurrentUser | None, *, deps: Deps) -> None:
    """Revoke the session's token in every service; without a valid session, nothing to do."""
    if user is None:
        return
    await deps.revocations.revoke(SessionRevoked(jti=user.jti, user_id=user.id, exp=user.exp))
