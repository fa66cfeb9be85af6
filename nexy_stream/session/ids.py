"""The identifier rules both protocols share: who is talking, and which utterance."""

from __future__ import annotations

import uuid

from nexy_stream.session.errors import Code, SessionError

_UNKNOWN_DEVICE = "unknown"


def device_problem(device_id: str, longest: int, field: str = "device_id") -> SessionError | None:
    """What is wrong with a device (hardware) id: deployed clients send "unknown" when
    they could not read one, which must never merge two users' sessions."""
    if not device_id.strip() or device_id.strip().casefold() == _UNKNOWN_DEVICE:
        return SessionError(
            Code.INVALID_ARGUMENT, f"{field} is required (not empty, not 'unknown')"
        )
    if len(device_id) > longest:
        return SessionError(
            Code.INVALID_ARGUMENT, f"{field} has {len(device_id)} characters, over {longest}"
        )
    return None


def canonical_session_id(
    session_id: str, longest: int, version: int | None = None
) -> str | SessionError:
    """The session id in its one canonical spelling, so every accepted spelling of a UUID
    names the same session; or what is wrong with it."""
    wanted = "a UUID" if version is None else f"a UUID version {version}"
    try:
        if len(session_id) > longest:
            raise ValueError
        parsed = uuid.UUID(session_id)
    except ValueError:
        return SessionError(
            Code.INVALID_ARGUMENT, f"session_id must be {wanted}, got {session_id[:64]!r}"
        )
    if version is not None and parsed.version != version:
        return SessionError(
            Code.INVALID_ARGUMENT, f"session_id must be {wanted}, got version {parsed.version}"
        )
    return str(parsed)
