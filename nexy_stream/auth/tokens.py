"""The token file: one credential per line, ``sha256:<hex of the token>  <principal>  [admin]``.

Only hashes are stored, so the file reveals no token. ``#`` starts a comment (principal
names cannot hold one); blank lines are ignored. Tokens are random (``new_token``), so a
plain SHA-256 is enough: there is nothing to guess a token from its hash.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from nexy_stream.auth.principal import AuthMethod, Principal, principal_name_problem

TOKEN_PREFIX = "nxs_"  # recognisable in a leaked-secrets scan
DIGEST_PREFIX = "sha256:"
ADMIN_FLAG = "admin"
LINE_FORMAT = "sha256:<64 hex digits>  <principal>  [admin]"
log = logging.getLogger("nexy_stream.auth")


class TokenFileError(ValueError):
    """A token file that cannot be used; the message names the file and the line, and
    never repeats a field (a token pasted by mistake must not reach a log)."""


@dataclass(frozen=True, slots=True)
class Credential:
    digest: bytes = field(repr=False)  # SHA-256 of the token
    principal: Principal


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_token() -> str:
    """A fresh random token: 256 bits from :mod:`secrets`, with a recognisable prefix."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def credential_line(token: str, principal: str, admin: bool) -> str:
    """The token file line that lets ``token`` in as ``principal``."""
    problem = principal_name_problem(principal)
    if problem is not None:
        raise ValueError(problem)
    line = f"{DIGEST_PREFIX}{token_digest(token).hex()}  {principal}"
    return f"{line}  {ADMIN_FLAG}\n" if admin else line + "\n"


def parse_credentials(text: str, source: str) -> tuple[Credential, ...]:
    """Every credential of a token file's text; ``TokenFileError`` names the first bad line."""
    credentials: list[Credential] = []
    first_seen: dict[bytes, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        where = f"{source} line {number}"
        credential = _credential(fields, where)
        if credential.digest in first_seen:
            raise TokenFileError(
                f"{where}: the same token as line {first_seen[credential.digest]}; "
                "a token belongs to one principal"
            )
        first_seen[credential.digest] = number
        credentials.append(credential)
    return tuple(credentials)


def _credential(fields: list[str], where: str) -> Credential:
    if len(fields) not in (2, 3):
        raise TokenFileError(f"{where}: {len(fields)} fields, expected `{LINE_FORMAT}`")
    hashed, name, *flags = fields
    if flags and flags[0] != ADMIN_FLAG:
        raise TokenFileError(f"{where}: the third field can only be `{ADMIN_FLAG}`")
    digest = _digest(hashed)
    if digest is None:
        raise TokenFileError(
            f"{where}: the first field is not sha256:<64 hex digits> (the file holds token "
            "hashes, never tokens: `nexy-stream auth new-token` writes the line)"
        )
    problem = principal_name_problem(name)
    if problem is not None:
        raise TokenFileError(f"{where}: {problem}")
    return Credential(digest, Principal(name, admin=bool(flags), method=AuthMethod.TOKEN))


def _digest(field: str) -> bytes | None:
    if not field.startswith(DIGEST_PREFIX):
        return None
    hexits = field.removeprefix(DIGEST_PREFIX)
    if len(hexits) != 64:
        return None
    try:
        return bytes.fromhex(hexits)
    except ValueError:
        return None


def read_token_file(path: Path) -> tuple[Credential, ...]:
    """The credentials of ``path``; ``OSError`` or ``TokenFileError`` when it is unusable."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TokenFileError(f"{path}: not UTF-8 text") from None
    credentials = parse_credentials(text, str(path))
    if path.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        log.warning("auth: %s is writable by others, who could add an admin credential", path)
    return credentials


class TokenFile:
    """The credentials of one token file, re-read on demand (:meth:`reload`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._by_digest = _by_digest(read_token_file(path))

    def __len__(self) -> int:
        return len(self._by_digest)

    def __repr__(self) -> str:
        return f"TokenFile({str(self.path)!r}, {len(self)} credentials)"

    def lookup(self, token: str) -> Principal | None:
        """The principal ``token`` belongs to, or ``None``.

        The token's SHA-256 is looked up in a table, so a lookup costs the same with one
        credential or thousands. Its timing can only tell about that hash, from which no
        token can be recovered; the match is then confirmed in constant time.
        """
        digest = token_digest(token)
        found = self._by_digest.get(digest)
        if found is None or not hmac.compare_digest(found.digest, digest):
            return None
        return found.principal

    def reload(self) -> bool:
        """Re-reads the file. When it is unusable, the previous credentials stay in force
        and one line says why; returns whether the new ones were taken."""
        try:
            credentials = read_token_file(self.path)
        except (OSError, TokenFileError) as exc:
            reason = f"{self.path}: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)
            log.error("auth: token file not reloaded, %d credentials kept: %s", len(self), reason)
            return False
        self._by_digest = _by_digest(credentials)
        admins = sum(c.principal.admin for c in credentials)
        log.info(
            "auth: token file %s reloaded: %d credentials (%d admin)", self.path, len(self), admins
        )
        return True


def _by_digest(credentials: tuple[Credential, ...]) -> dict[bytes, Credential]:
    return {credential.digest: credential for credential in credentials}
