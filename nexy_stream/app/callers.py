"""Who owns a call's sessions: the transports' :data:`Authenticate`, built from the
server's :class:`Authenticator` and ``--legacy-auth``.

Here, in the composition root, because credentials (``auth``) and transports (``server``,
``legacy``) do not know each other.
"""

from __future__ import annotations

from nexy_stream.auth import Authenticator, AuthError, LegacyAuth, sends_credential
from nexy_stream.server.callers import Authenticate, Metadata, anyone
from nexy_stream.session import ANONYMOUS, Code, Owner, SessionError


def session_owner(authenticator: Authenticator | None) -> Authenticate:
    """For v1 sessions: with authentication on, a valid credential is required and the
    sessions belong to its principal."""
    if authenticator is None:
        return anyone

    def authenticate(metadata: Metadata) -> Owner | SessionError:
        try:
            principal = authenticator.authenticate(metadata)
        except AuthError as refused:
            return SessionError(Code(refused.code.value[0]), refused.message)
        return Owner(principal=principal.name)

    return authenticate


def legacy_owner(authenticator: Authenticator | None, mode: LegacyAuth) -> Authenticate:
    """For the legacy endpoint, whose deployed clients mostly cannot send a credential:
    ``required`` checks it as v1 does; ``optional`` checks one that is sent (a bad one is
    refused, not ignored) and lets a call without one in as no principal; ``off`` ignores
    credentials. The legacy service adds the hardware id to the owner."""
    if authenticator is None or mode is LegacyAuth.OFF:
        return anyone
    checked = session_owner(authenticator)
    if mode is LegacyAuth.REQUIRED:
        return checked

    def optional(metadata: Metadata) -> Owner | SessionError:
        return checked(metadata) if sends_credential(metadata) else ANONYMOUS

    return optional
