"""One check for every caller: the ``authorization: Bearer <token>`` metadata of a call."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import grpc

from nexy_stream.auth.config import AuthConfig
from nexy_stream.auth.principal import AuthError, Principal, unauthenticated
from nexy_stream.auth.tokens import TokenFile

if TYPE_CHECKING:
    from nexy_stream.auth.signed import JwtVerifier

Metadata = Iterable[tuple[str, str | bytes]]
log = logging.getLogger("nexy_stream.auth")


def sends_credential(metadata: Metadata | None) -> bool:
    """Whether the call carries an ``authorization`` header at all (a bad one included)."""
    return any(key.lower() == "authorization" for key, _ in metadata or ())


def bearer_token(metadata: Metadata | None) -> str:
    """The token of the call's one ``authorization: Bearer <token>`` header."""
    values = [value for key, value in metadata or () if key.lower() == "authorization"]
    if not values:
        raise unauthenticated("no credential: send the metadata `authorization: Bearer <token>`")
    if len(values) > 1:
        raise unauthenticated(f"{len(values)} authorization headers; send exactly one")
    scheme, _, token = values[0].partition(" ") if isinstance(values[0], str) else ("", "", "")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or any(c.isspace() for c in token):
        # Neither part is quoted: a token sent without its scheme would be the "scheme".
        raise unauthenticated("malformed authorization header: expected `Bearer <token>`")
    return token


def _looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2  # header.payload.signature; opaque tokens have no dot


class Authenticator:
    """Turns a call's metadata into its :class:`Principal`, or refuses it with an
    :class:`AuthError` saying what was wrong (never repeating the token)."""

    def __init__(self, tokens: TokenFile | None = None, jwt: JwtVerifier | None = None) -> None:
        if tokens is None and jwt is None:
            raise ValueError("an Authenticator needs a token file, a JWT verifier or both")
        self.tokens = tokens
        self.jwt = jwt

    @classmethod
    def from_config(cls, config: AuthConfig) -> Authenticator | None:
        """Reads the token file and the JWT key now (``OSError``, or ``ValueError`` naming
        the file and line); ``None`` when authentication is off."""
        if not config.enabled:
            return None
        tokens = TokenFile(config.tokens_file) if config.tokens_file is not None else None
        verifier = None
        if config.jwt_key_file is not None:
            # PyJWT and cryptography load only here: the client tools never need them.
            from nexy_stream.auth.signed import JwtVerifier, load_jwt_key

            assert config.jwt_audience is not None  # AuthConfig requires it with a key
            key = load_jwt_key(config.jwt_key_file)
            verifier = JwtVerifier(key, config.jwt_audience, config.jwt_issuer, config.jwt_leeway_s)
        return cls(tokens, verifier)

    def describe(self) -> str:
        """What is accepted, for the start-up log."""
        parts = []
        if self.tokens is not None:
            parts.append(f"tokens from {self.tokens.path} ({len(self.tokens)} credentials)")
        if self.jwt is not None:
            algorithms = ", ".join(self.jwt.key.algorithms)
            parts.append(f"JWTs signed with an {self.jwt.key.kind} ({algorithms})")
        return " and ".join(parts)

    def authenticate(self, metadata: Metadata | None) -> Principal:
        token = bearer_token(metadata)
        if self.jwt is not None and _looks_like_jwt(token):
            return self.jwt.verify(token)
        if self.tokens is not None:
            principal = self.tokens.lookup(token)
            if principal is None:
                raise unauthenticated("unknown token: no credential of this server matches it")
            return principal
        raise unauthenticated("not a JWT: this server accepts signed tokens (JWT) only")

    def authenticate_admin(self, metadata: Metadata | None) -> Principal:
        """As :meth:`authenticate`, and a principal that is not an admin gets
        PERMISSION_DENIED."""
        principal = self.authenticate(metadata)
        if not principal.admin:
            raise AuthError(
                grpc.StatusCode.PERMISSION_DENIED,
                f"principal {principal.name!r} is not an admin; this needs an admin credential",
            )
        return principal

    def reload(self) -> bool:
        """Re-reads the token file (SIGHUP); the previous credentials stay when it is
        unusable. ``False`` when nothing was reloaded."""
        if self.tokens is None:
            log.info("auth: no token file to reload")
            return False
        return self.tokens.reload()
