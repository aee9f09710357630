"""Users and their passwords. No I/O here."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from shared.errors import BadRequest

# NIST 800-63B and OWASP ASVS: at least 8 characters, allow at least 64, never trim. 128 is
# our cap on what one hash is asked to digest. Characters are Python str length: code points.
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 128

KEY_BYTES = 64
SALT_BYTES = 16
SCHEME = "scrypt"
# The cheapest and dearest cost we hash with or accept from a stored hash: 2**14 is what
# the legacy hashes used (16 MiB), 2**20 takes 1 GiB. r and p are always 8 and 1.
MIN_LOG2_N = 14
MAX_LOG2_N = 20


class EmailInUse(BadRequest):
    default_message = "Email in use"


class InvalidCredentials(BadRequest):
    # One message for an unknown email and a wrong password: tell an attacker nothing.
    default_message = "Invalid credentials"


@dataclass(frozen=True)
class User:
    id: str
    email: str
    password_hash: str


@dataclass(frozen=True)
class ScryptCost:
    """scrypt's parameters: N = 2**log2_n, block size r, parallelism p."""

    log2_n: int = 17
    r: int = 8
    p: int = 1

    @property
    def n(self) -> int:
        return 1 << self.log2_n

    @property
    def memory_bytes(self) -> int:
        """What OpenSSL allocates for one hash: 128·r·(N + 2) for V plus 128·r·p for B."""
        return 128 * self.r * (self.n + 2 + self.p)


# OWASP's scrypt setting: 128 MiB and about half a second per hash on one core here.
DEFAULT_COST = ScryptCost()
# What `<hash hex>.<salt hex>` hashes (the original's layout) were made with: 16 MiB.
LEGACY_COST = ScryptCost(log2_n=14)


@dataclass(frozen=True)
class PasswordCheck:
    matches: bool
    # A fresh hash at the current cost to store instead, when the stored one is outdated.
    rehashed: str | None = None


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively, so ``A@x.io`` and ``a@x.io`` are one account."""
    return email.strip().lower()


def _scrypt(password: str, salt: bytes, cost: ScryptCost) -> bytes:
    return hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=cost.n,
        r=cost.r,
        p=cost.p,
        dklen=KEY_BYTES,
        maxmem=cost.memory_bytes,
    )


def _format(cost: ScryptCost, salt: bytes, key: bytes) -> str:
    return f"{SCHEME}${cost.log2_n}${cost.r}${cost.p}${salt.hex()}${key.hex()}"


def hash_password(password: str, cost: ScryptCost = DEFAULT_COST) -> str:
    """``scrypt$<log2 N>$<r>$<p>$<salt hex>$<hash hex>`` with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    return _format(cost, salt, _scrypt(password, salt, cost))


def decoy_hash(cost: ScryptCost = DEFAULT_COST) -> str:
    """A well-formed hash no password matches, checked when the email is unknown so that
    both failures cost one scrypt at ``cost``."""
    return _format(cost, secrets.token_bytes(SALT_BYTES), secrets.token_bytes(KEY_BYTES))


def _parse(stored: str) -> tuple[ScryptCost, bytes, bytes, bool] | None:
    """(cost, salt, key, legacy?) of a stored hash; None if malformed or out of bounds."""
    try:
        if "$" not in stored:
            key_hex, salt_hex = stored.split(".", 1)
            return LEGACY_COST, bytes.fromhex(salt_hex), bytes.fromhex(key_hex), True
        scheme, log2_n, r, p, salt_hex, key_hex = stored.split("$")
        cost = ScryptCost(int(log2_n), int(r), int(p))
        salt, key = bytes.fromhex(salt_hex), bytes.fromhex(key_hex)
    except ValueError:
        return None
    in_bounds = MIN_LOG2_N <= cost.log2_n <= MAX_LOG2_N and (cost.r, cost.p) == (8, 1)
    return (cost, salt, key, False) if scheme == SCHEME and in_bounds else None


def check_password(password: str, stored: str, cost: ScryptCost = DEFAULT_COST) -> PasswordCheck:
    """Whether ``password`` matches ``stored`` (compared in constant time, at the stored
    hash's own cost), with a rehash at ``cost`` when it does and ``stored`` is outdated."""
    parsed = _parse(stored)
    if parsed is None:
        return PasswordCheck(matches=False)
    stored_cost, salt, key, legacy = parsed
    # Legacy hashes were made from the trimmed password, and sign-in trimmed too: keep
    # accepting what those accounts always accepted.
    candidate = password.strip() if legacy else password
    matches = hmac.compare_digest(_scrypt(candidate, salt, stored_cost), key)
    if stored_cost == cost and not legacy:
        return PasswordCheck(matches)
    # Hashed even when the password is wrong: an outdated account then costs as much as
    # any other, so timing does not tell which emails have one.
    rehashed = hash_password(password, cost)
    return PasswordCheck(matches, rehashed if matches else None)
