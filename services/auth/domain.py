"""Users and their passwords. No I/O here."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from shared.errors import BadRequest

# scrypt cost: n=2**14, r=8 is the interactive-login setting from the scrypt paper;
# about 16 MiB and tens of milliseconds per hash.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
KEY_BYTES = 64
SALT_BYTES = 16


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


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively, so ``A@x.io`` and ``a@x.io`` are one account."""
    return email.strip().lower()


def _scrypt(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        dklen=KEY_BYTES,
        maxmem=64 * 1024 * 1024,
    )


def hash_password(password: str) -> str:
    """``<hash hex>.<salt hex>`` (the original's layout) with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    return f"{_scrypt(password, salt).hex()}.{salt.hex()}"


def password_matches(password: str, stored: str) -> bool:
    """Constant-time comparison of ``password`` against a stored hash."""
    try:
        hash_hex, salt_hex = stored.split(".", 1)
        expected, salt = bytes.fromhex(hash_hex), bytes.fromhex(salt_hex)
    except ValueError:
        return False
    return hmac.compare_digest(_scrypt(password, salt), expected)


# Checked against when the email is unknown, so both failures cost one scrypt.
DECOY_HASH = hash_password(secrets.token_urlsafe(16))
