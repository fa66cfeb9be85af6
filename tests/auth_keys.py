"""Credentials made at test time: token files, key pairs and signed JWTs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from nexy_stream.auth import Authenticator, TokenFile
from nexy_stream.auth.signed import JwtVerifier, load_jwt_key
from nexy_stream.auth.tokens import credential_line, new_token

AUDIENCE = "nexy-stream-tests"
ISSUER = "https://idp.test"


def token_file(path: Path, *users: tuple[str, bool]) -> list[str]:
    """Writes a token file for ``(principal, admin)`` pairs; returns their tokens."""
    tokens = [new_token() for _ in users]
    path.write_text(
        "".join(
            credential_line(t, name, admin) for t, (name, admin) in zip(tokens, users, strict=True)
        )
    )
    return tokens


def public_pem(private_key: Any) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


class Issuer:
    """An identity provider of one EC P-256 key pair; its public key is in ``key_file``."""

    def __init__(self, directory: Path) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.key_file = directory / "jwt-public.pem"
        self.key_file.write_bytes(public_pem(self.private_key))

    def token(self, sub: str = "carol", lifetime_s: float = 300, **claims: Any) -> str:
        now = int(time.time())
        payload = {"sub": sub, "aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": now + lifetime_s}
        payload.update(claims)
        return jwt.encode(
            {k: v for k, v in payload.items() if v is not None}, self.private_key, "ES256"
        )

    def verifier(self) -> JwtVerifier:
        return JwtVerifier(load_jwt_key(self.key_file), AUDIENCE, ISSUER)


def authenticator(tmp_path: Path, issuer: Issuer | None = None) -> tuple[Authenticator, str, str]:
    """Token file with a user (alice) and an admin (root), and JWTs if ``issuer``; returns the
    authenticator and the user's and the admin's tokens."""
    user, admin = token_file(tmp_path / "tokens", ("alice", False), ("root", True))
    jwts = issuer.verifier() if issuer is not None else None
    return Authenticator(TokenFile(tmp_path / "tokens"), jwts), user, admin


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)
