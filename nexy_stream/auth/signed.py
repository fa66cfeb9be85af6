"""Signed bearer tokens (JWT) from an identity provider, checked with PyJWT.

The algorithms a token may use follow from the configured key alone, never from the
token's header: an RSA key allows RS*/PS*, an EC key the ES* of its curve, an Ed25519/Ed448
key EdDSA, and an HMAC secret the HS* its length is strong enough for. So a token cannot
make the server treat a public key as an HMAC secret, or choose ``none``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.exceptions import InvalidSubjectError

from nexy_stream.auth.principal import (
    ADMIN_SCOPE,
    AuthError,
    AuthMethod,
    Principal,
    principal_name_problem,
    unauthenticated,
)

MIN_HMAC_BYTES = 32  # RFC 7518 §3.2: at least the hash's size
MIN_RSA_BITS = 2048
_HMAC = (("HS256", 32), ("HS384", 48), ("HS512", 64))
_RSA = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
_EC = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512", "secp256k1": "ES256K"}
REQUIRED_CLAIMS = ("exp", "sub")


class JwtKeyError(ValueError):
    """A JWT key file that cannot be used; the message says why and what would do."""


@dataclass(frozen=True, slots=True)
class JwtKey:
    key: Any = field(repr=False)  # a cryptography public key, or the HMAC secret's bytes
    algorithms: tuple[str, ...]
    kind: str  # for the start-up log: "RSA 2048-bit public key", "HMAC secret (32 bytes)"


def load_jwt_key(path: Path) -> JwtKey:
    """A PEM public key (``BEGIN PUBLIC KEY``), or else an HMAC secret: the file's bytes
    less a trailing newline."""
    data = path.read_bytes()
    if b"-----BEGIN" not in data:
        return _hmac_secret(data.rstrip(b"\r\n"), path)
    if b"PRIVATE KEY-----" in data:
        raise JwtKeyError(
            f"{path} holds a private key: give the server the public key only "
            "(openssl pkey -in KEY -pubout)"
        )
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise JwtKeyError(f"{path}: not a PEM public key (-----BEGIN PUBLIC KEY-----)") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise JwtKeyError(f"{path}: an RSA key of {key.key_size} bits, under {MIN_RSA_BITS}")
        return JwtKey(key, _RSA, f"RSA {key.key_size}-bit public key")
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _EC:
            raise JwtKeyError(f"{path}: EC curve {key.curve.name} has no JWT algorithm")
        return JwtKey(key, (_EC[key.curve.name],), f"EC {key.curve.name} public key")
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return JwtKey(key, ("EdDSA",), "EdDSA public key")
    raise JwtKeyError(f"{path}: a {type(key).__name__}, not an RSA, EC or EdDSA public key")


def _hmac_secret(secret: bytes, path: Path) -> JwtKey:
    if len(secret) < MIN_HMAC_BYTES:
        raise JwtKeyError(
            f"{path}: an HMAC secret of {len(secret)} bytes, under {MIN_HMAC_BYTES} "
            "(or give a PEM public key)"
        )
    algorithms = tuple(name for name, size in _HMAC if len(secret) >= size)
    return JwtKey(secret, algorithms, f"HMAC secret ({len(secret)} bytes)")


# What each refusal says, most specific first; PyJWT's own messages are not passed on.
_REFUSALS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "expired token: its exp claim has passed"),
    (jwt.ImmatureSignatureError, "token not valid yet: its nbf or iat claim is in the future"),
    (jwt.InvalidAudienceError, "wrong audience: the token's aud claim is not for this server"),
    (jwt.InvalidIssuerError, "wrong issuer: the token's iss claim is not the one trusted"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed for this server's JWT key"),
    (jwt.InvalidSignatureError, "bad signature: the token was not signed with the trusted key"),
    (InvalidSubjectError, "the token's sub claim is not a string"),
    (jwt.DecodeError, "malformed JWT"),
)


class JwtVerifier:
    """Checks a JWT's signature, expiry (required), audience and issuer; its ``sub`` claim
    names the principal, and ``nexy:admin`` in its ``scope`` claim makes it an admin."""

    def __init__(
        self, key: JwtKey, audience: str, issuer: str | None = None, leeway_s: float = 30.0
    ) -> None:
        self.key = key
        self._audience = audience
        self._issuer = issuer
        self._leeway_s = leeway_s
        self._decoder = jwt.PyJWT({"require": list(REQUIRED_CLAIMS)})

    def verify(self, token: str) -> Principal:
        """The principal a valid token names; ``AuthError`` (UNAUTHENTICATED) otherwise."""
        try:
            claims = self._decoder.decode(
                token,
                self.key.key,
                algorithms=list(self.key.algorithms),
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway_s,
            )
        except jwt.MissingRequiredClaimError as missing:
            raise unauthenticated(f"the token has no {missing.claim} claim") from None
        except jwt.PyJWTError as refused:
            raise _refusal(refused) from None
        name: str = claims["sub"]
        problem = principal_name_problem(name)
        if problem is not None:
            raise unauthenticated(f"the token's sub claim cannot name a principal: {problem}")
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            raise unauthenticated("the token's scope claim is not a space-separated string")
        return Principal(name, admin=ADMIN_SCOPE in scope.split(), method=AuthMethod.JWT)


def _refusal(refused: jwt.PyJWTError) -> AuthError:
    for kind, message in _REFUSALS:
        if isinstance(refused, kind):
            return unauthenticated(message)
    return unauthenticated("invalid token")
