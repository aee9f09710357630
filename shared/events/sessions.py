"""The contract the auth service owns: ``session.revoked``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from marshmallow import fields, post_load, validate

from shared.events.base import ContractSchema, Event

# What auth mints (shared.auth.tokens): base64url, 22 characters for 128 bits; a little
# room either way for a future length, never an arbitrary string.
JTI = validate.Regexp(r"\A[A-Za-z0-9_-]{16,128}\Z", error="Not a valid token id.")
USER_ID = validate.Regexp(r"\A[0-9a-f]{24}\Z", error="Not a valid ObjectId.")
# Unix seconds; the upper bound (year 2100) rejects nonsense without limiting real tokens.
EXP = validate.Range(min=1, max=4_102_444_800)


@dataclass(frozen=True)
class SessionRevoked(Event):
    """A session token was signed out: refuse ``jti`` until its ``exp`` (Unix seconds)."""

    routing_key: ClassVar[str] = "session.revoked"
    subject_field: ClassVar[str] = "jti"

    jti: str
    user_id: str
    exp: int


class SessionRevokedSchema(ContractSchema):
    """Wire form ``{jti, userId, exp}``; ``exp`` is the token's, an integer."""

    jti = fields.String(required=True, validate=JTI)
    user_id = fields.String(required=True, data_key="userId", validate=USER_ID)
    exp = fields.Integer(required=True, strict=True, validate=EXP)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> SessionRevoked:
        return SessionRevoked(**data)
