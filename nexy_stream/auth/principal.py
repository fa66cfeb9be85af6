"""Who a caller is once authenticated, and the error a refused caller gets."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import grpc

MAX_PRINCIPAL_CHARS = 128
# Admin rights in a JWT: this word among the space-separated `scope` claim (RFC 8693 §4.2).
ADMIN_SCOPE = "nexy:admin"


class AuthMethod(StrEnum):
    """How a principal proved who it is."""

    TOKEN = "token"  # an opaque token whose hash is in the server's token file
    JWT = "jwt"  # a JWT signed with the server's configured key


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a name (the identity budgets and sessions are bound to),
    whether it may use the admin service, and how it authenticated."""

    name: str
    admin: bool
    method: AuthMethod


def principal_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a principal name (it goes into token files and logs), or
    ``None`` when it can."""
    if not 1 <= len(name) <= MAX_PRINCIPAL_CHARS:
        return f"a principal name has 1 to {MAX_PRINCIPAL_CHARS} characters, not {len(name)}"
    if any(c.isspace() or c == "#" or not c.isprintable() for c in name):
        return "a principal name has no whitespace, '#' or control characters"
    return None


class AuthError(Exception):
    """A caller was refused: ``code`` (UNAUTHENTICATED or PERMISSION_DENIED) and a message
    that says what was wrong. The message never holds the credential itself."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def unauthenticated(message: str) -> AuthError:
    return AuthError(grpc.StatusCode.UNAUTHENTICATED, message)
