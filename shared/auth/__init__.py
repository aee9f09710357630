"""Identity: EdDSA JWTs carried in the ``session`` cookie, and who the caller is."""

from shared.auth.identity import (
    CURRENT_USER,
    CurrentUser,
    IdentitySettings,
    current_user,
    identity_middlewares,
    require_auth,
    sign_in,
    sign_out,
)
from shared.auth.tokens import TokenSigner, TokenVerifier

__all__ = [
    "CURRENT_USER",
    "CurrentUser",
    "IdentitySettings",
    "TokenSigner",
    "TokenVerifier",
    "current_user",
    "identity_middlewares",
    "require_auth",
    "sign_in",
    "sign_out",
]
