"""Signing and verifying EdDSA (Ed25519) JWTs with claims ``id``, ``email``, ``iat``, ``exp``,
``iss``, ``aud`` and ``jti``.

Only auth holds the private key; every other service verifies with the public key, so a
leaked service config cannot mint tokens (the original shared one HS256 secret).
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "EdDSA"
# Who mints our tokens and whom they are for: a token Ed25519-signed for another purpose
# (another system sharing the key pair, a future token kind) is not a session here.
ISSUER = "ticketing-auth"
AUDIENCE = "ticketing"
# 16 random bytes: 128 bits, so a jti is never guessed nor repeated; 22 base64url characters.
JTI_BYTES = 16
# A token without ``jti`` (minted before sessions were revocable) is refused rather than
# accepted until its ``exp``: sign-out could not revoke it, so accepting it would keep a
# stolen pre-upgrade cookie alive for up to JWT_TTL_SECONDS after its owner signed out.
# The cost is one sign-in for everybody signed in when the upgrade rolls out.
# Clock skew tolerated between auth and the verifiers, on exp (and iat).
LEEWAY_S = 5
REQUIRED_CLAIMS = ["id", "email", "iat", "exp", "iss", "aud", "jti"]


@dataclass(frozen=True)
class Claims:
    id: str
    email: str
    iat: int
    exp: int
    jti: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "email": self.email, "iat": self.iat, "exp": self.exp}


def _load_private(pem: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("JWT_PRIVATE_KEY must be an Ed25519 private key")
    return key


def _load_public(pem: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("JWT_PUBLIC_KEY must be an Ed25519 public key")
    return key


class TokenSigner:
    """Mints tokens; lives only in the auth service."""

    def __init__(self, private_key_pem: str, *, ttl_s: int) -> None:
        self._key = _load_private(private_key_pem)
        self._ttl_s = ttl_s

    def sign(self, user_id: str, email: str, *, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        payload = {
            "id": user_id,
            "email": email,
            "iat": issued,
            "exp": issued + self._ttl_s,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "jti": secrets.token_urlsafe(JTI_BYTES),
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM)


class TokenVerifier:
    """Checks a token's signature, algorithm, expiry, issuer and audience; anything wrong
    gives None."""

    def __init__(self, public_key_pem: str, *, leeway_s: int = LEEWAY_S) -> None:
        self._key = _load_public(public_key_pem)
        self.leeway_s = leeway_s

    def verify(self, token: str) -> Claims | None:
        try:
            # Pinning the algorithm list is what rejects `alg: none` and HS256
            # tokens "signed" with the public key.
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                options={"require": REQUIRED_CLAIMS},
                issuer=ISSUER,
                audience=AUDIENCE,
                leeway=self.leeway_s,
            )
        except jwt.PyJWTError:
            return None
        user_id, email, jti = payload.get("id"), payload.get("email"), payload.get("jti")
        if not isinstance(user_id, str) or not isinstance(email, str):
            return None
        if not isinstance(jti, str) or not jti:
            return None
        return Claims(
            id=user_id, email=email, iat=int(payload["iat"]), exp=int(payload["exp"]), jti=jti
        )


# Tokens whose verification a process remembers: more than the sessions one replica sees
# at a time in practice, and at ~1 KB an entry a bounded cost to memory.
VERIFIED_TOKENS_KEPT = 4096


class VerifiedTokens:
    """``TokenVerifier.verify`` remembered: the EdDSA check (a fifth of a signed-in
    request's CPU) runs once per token, not once per request.

    Only what verification proved is remembered, and only while it stays true: a token's
    signature, issuer and audience never change, its validity ends at ``exp`` (plus the
    leeway), and past that it is refused as the verifier would refuse it. Revocation is not
    the cache's to know: ``identify`` asks the denylist on every request, cached or not, so
    a revoked session is refused the moment its jti is listed. A refused token is not
    remembered (it costs nothing to keep refusing, and cannot crowd out good ones). At most
    ``size`` tokens are kept, the least recently used one leaving first.
    """

    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        size: int = VERIFIED_TOKENS_KEPT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self._verifier = verifier
        self._size = size
        self._clock = clock
        # token -> (its claims, the time from which the verifier would refuse it)
        self._kept: OrderedDict[str, tuple[Claims, float]] = OrderedDict()

    def verify(self, token: str) -> Claims | None:
        kept = self._kept.get(token)
        if kept is not None:
            claims, refused_from = kept
            if self._clock() < refused_from:
                self._kept.move_to_end(token)
                return claims
            del self._kept[token]
            return None  # expired: the verifier would say so too
        verified = self._verifier.verify(token)
        if verified is not None:
            self._kept[token] = (verified, float(verified.exp + self._verifier.leeway_s))
            if len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return verified

    def __len__(self) -> int:
        return len(self._kept)
