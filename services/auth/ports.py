"""What auth's use cases need from the world, as Protocols; the adapters implement them."""

from __future__ import annotations

from typing import Protocol

from services.auth.domain import PasswordCheck, User
from shared.events import SessionRevoked


class UserRepository(Protocol):
    async def add(self, email: str, password_hash: str) -> User:
        """Store a new user; ``EmailInUse`` if the email is taken."""

    async def by_email(self, email: str) -> User | None: ...

    async def replace_password_hash(self, user_id: str, old: str, new: str) -> None:
        """Store ``new`` as the user's hash if it is still ``old`` (else leave it)."""


class RevocationLog(Protocol):
    async def revoke(self, event: SessionRevoked) -> None:
        """Refuse the token from now on, here and (soon) in every service."""


class Hasher(Protocol):
    """Where scrypt runs (off the event loop, a bounded number at once)."""

    async def hash(self, password: str) -> str: ...

    async def check(self, password: str, stored: str | None) -> PasswordCheck:
        """``password`` against ``stored``, or against a decoy when there is no account."""


class Signer(Protocol):
    def sign(self, user_id: str, email: str) -> str:
        """A session token for the user."""
