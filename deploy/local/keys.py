"""Dev Ed25519 key pairs for docker compose.

``make keys`` (``python -m deploy.local.keys --write .env``) writes one into ``.env`` itself,
starting it from ``.env.example`` when there is none; ``python -m deploy.local.keys`` only
prints one. Never both: make's echo of a recipe is not a line compose can read.
"""

import argparse
import re
import shutil
from pathlib import Path

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


# A key already in the file: set to something, not the empty placeholder of .env.example.
_HAS_KEY = re.compile(r"^JWT_PUBLIC_KEY=\S", re.MULTILINE)


def write_env(path: Path, example: Path) -> bool:
    """Give ``path`` a dev key pair (from ``example`` when it does not exist yet); False when
    it already had one, which is kept: a new pair would sign out every dev session."""
    if not path.exists():
        shutil.copyfile(example, path)
    text = path.read_text()
    if _HAS_KEY.search(text):
        return False
    # Later lines win in compose's .env, so these override the example's empty ones.
    separator = "" if text.endswith("\n") or not text else "\n"
    path.write_text(f"{text}{separator}{env_lines()}\n")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, help="the .env file to add a key pair to")
    parser.add_argument("--example", type=Path, default=Path(".env.example"))
    args = parser.parse_args()
    if args.write is None:
        print(env_lines())
    elif write_env(args.write, args.example):
        print(f"{args.write}: wrote a dev JWT key pair")
    else:
        print(f"{args.write}: already has a JWT key pair; left as it is")


if __name__ == "__main__":
    main()
