"""Who is calling: bearer credentials checked against a token file or a JWT key.

A layer beside :mod:`nexy_stream.server`: it reads gRPC metadata and knows nothing of
sessions, so every transport (and the admin service) asks the same :class:`Authenticator`.
PyJWT and cryptography load only when signed tokens are configured.
"""

from nexy_stream.auth.authenticator import Authenticator, bearer_token, sends_credential
from nexy_stream.auth.config import AuthConfig, LegacyAuth
from nexy_stream.auth.principal import AuthError, AuthMethod, Principal
from nexy_stream.auth.tokens import TokenFile, TokenFileError

__all__ = [
    "AuthConfig",
    "AuthError",
    "AuthMethod",
    "Authenticator",
    "LegacyAuth",
    "Principal",
    "TokenFile",
    "TokenFileError",
    "bearer_token",
    "sends_credential",
]
