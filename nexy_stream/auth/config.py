"""Authentication settings (kept free of PyJWT and of every server part)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class LegacyAuth(StrEnum):
    """What the legacy endpoint asks of deployed clients, which cannot all send a token."""

    REQUIRED = "required"  # a valid token on every call, as on the session stream
    OPTIONAL = "optional"  # a token is checked when sent; without one, the hardware id binds
    OFF = "off"  # tokens are ignored on the legacy endpoint


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Which credentials the server accepts. With neither a token file nor a JWT key,
    authentication is off; ``insecure_no_auth`` says that is meant, so the server may then
    listen beyond loopback (see ``ServerConfig``)."""

    tokens_file: Path | None = None
    jwt_key_file: Path | None = None
    # The aud claim a JWT must carry: required with a key, so tokens an identity provider
    # issued for other services are refused here.
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_leeway_s: float = 30.0  # clock skew tolerated on exp, nbf and iat
    legacy: LegacyAuth = LegacyAuth.OPTIONAL  # applies when authentication is on
    insecure_no_auth: bool = False

    def __post_init__(self) -> None:
        if self.jwt_key_file is None and (self.jwt_audience or self.jwt_issuer):
            raise ValueError("a JWT audience or issuer needs a JWT key (--auth-jwt-key)")
        if self.jwt_key_file is not None and not self.jwt_audience:
            raise ValueError(
                "a JWT key needs the audience its tokens are for (--auth-jwt-audience), "
                "so tokens issued for other services are refused"
            )
        if not 0 <= self.jwt_leeway_s <= 300:
            raise ValueError(f"jwt_leeway_s is {self.jwt_leeway_s:g}, outside 0..300 seconds")
        if self.insecure_no_auth and self.enabled:
            raise ValueError("--insecure-no-auth contradicts --auth-tokens and --auth-jwt-key")

    @property
    def enabled(self) -> bool:
        return self.tokens_file is not None or self.jwt_key_file is not None
