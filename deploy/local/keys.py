"""Dev Ed25519 key pairs; ``make keys >> .env`` (``python -m deploy.local.keys``) prints one."""

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def generate_keypair() -> tuple[str, str]:
    """A fresh Ed25519 key pair as (private PKCS8 PEM, public SubjectPublicKeyInfo PEM)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def env_lines() -> str:
    private, public = generate_keypair()
    # One line each: the services accept "\n" escapes in PEM variables.
    escaped = {
        name: pem.strip().replace("\n", "\\n")
        for name, pem in (("PRIVATE", private), ("PUBLIC", public))
    }
    return f'JWT_PRIVATE_KEY="{escaped["PRIVATE"]}"\nJWT_PUBLIC_KEY="{escaped["PUBLIC"]}"'


if __name__ == "__main__":
    print(env_lines())
