"""``nexy-stream auth new-token``: mint a token and add its hash to a token file."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from nexy_stream.auth.tokens import credential_line, new_token, read_token_file


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    auth = commands.add_parser("auth", help="manage the credentials of `serve --auth-tokens`")
    actions = auth.add_subparsers(dest="action", required=True)
    mint = actions.add_parser(
        "new-token",
        help="print a fresh token and add its hash to the token file",
        description="Prints a fresh random token on stdout (shown once: only its SHA-256 "
        "goes into FILE) and appends its line to FILE, created readable by its owner only. "
        "A running server takes it on SIGHUP.",
    )
    mint.add_argument("principal", help="who the token lets in (no whitespace or '#')")
    mint.add_argument("--admin", action="store_true", help="may use the admin service (tail)")
    mint.add_argument("--file", type=Path, required=True, help="the token file to append to")
    return auth


def add_credential(path: Path, principal: str, admin: bool) -> str:
    """Appends a fresh token's line to ``path`` (created 0600) and returns the token.

    The file is checked first, so a line is never added to one the server would refuse.
    """
    token = new_token()
    line = credential_line(token, principal, admin)  # ValueError for a bad principal name
    existing = path.read_bytes() if path.exists() else b""
    if existing:
        read_token_file(path)  # TokenFileError (a ValueError) names the bad line
    unended = existing and not existing.endswith(b"\n")  # do not glue our line onto it
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write("\n" + line if unended else line)
    return token


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        token = add_credential(args.file, args.principal, args.admin)
    except (OSError, ValueError) as exc:
        detail = f"{exc.filename}: {exc.strerror}" if isinstance(exc, OSError) else str(exc)
        print(f"nexy-stream auth: {detail}", file=sys.stderr)
        return 1
    print(token)
    role = "an admin" if args.admin else "a user"
    print(
        f"added {role} credential for {args.principal!r} to {args.file}; the token above is "
        "shown once. Send SIGHUP to a running server to load it.",
        file=sys.stderr,
    )
    return 0
