"""Identity: EdDSA JWTs carried in the session cookie, who the caller is, and revoked sessions."""

from shared.auth.identity import (
    CURRENT_USER,
    REVOKED_SESSIONS,
    CurrentUser,
    IdentitySettings,
    current_user,
    identity_middlewares,
    require_auth,
    sign_out,
    start_session,
)
from shared.auth.revocation import (
    Denylist,
    RevocationStore,
    RevokedSessions,
    denylist_kept_fresh,
    revocation_subscription,
)
from shared.auth.tokens import TokenSigner, TokenVerifier, VerifiedTokens

__all__ = [
    "CURRENT_USER",
    "REVOKED_SESSIONS",
    "CurrentUser",
    "Denylist",
    "IdentitySettings",
    "RevocationStore",
    "RevokedSessions",
    "TokenSigner",
    "TokenVerifier",
    "VerifiedTokens",
    "current_user",
    "denylist_kept_fresh",
    "identity_middlewares",
    "require_auth",
    "revocation_subscription",
    "start_session",
    "sign_out",
]
