"""How the client commands (``say``, ``tail``, ``load``) reach a server: address and TLS.

One set of flags for all three, so a server run with ``serve --tls-cert ... --tls-client-ca
...`` is reachable by every tool the same way.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import grpc

from nexy_stream.cli.options import ENV_PREFIX, env_option
from nexy_stream.client.channel import ChannelTls

DEFAULT_TARGET = "127.0.0.1:50051"
TARGET_ENV = f"{ENV_PREFIX}TARGET"


def add_connection_options(
    parser: argparse.ArgumentParser, target_help: str, several: bool = False
) -> None:
    """``several``: ``--target`` may be repeated, and the environment may list several,
    comma-separated (read them with :func:`connection_targets`)."""
    if several:
        parser.add_argument(
            "--target",
            action="append",
            help=f"{target_help} [env {TARGET_ENV}, comma-separated, default {DEFAULT_TARGET}]",
        )
    else:
        env_option(parser, "--target", str, DEFAULT_TARGET, target_help)
    parser.add_argument(
        "--tls", action="store_true", help="use TLS, trusting the system's roots unless --ca"
    )
    env_option(parser, "--ca", str, "", "PEM CA that signed the server's certificate (TLS)")
    env_option(parser, "--cert", str, "", "PEM client certificate for mutual TLS (with --key)")
    env_option(parser, "--key", str, "", "PEM private key of --cert")


def connection_targets(args: argparse.Namespace) -> list[str]:
    """The targets of a command whose ``--target`` may be repeated."""
    if args.target:
        return list(args.target)
    return [t.strip() for t in os.environ.get(TARGET_ENV, DEFAULT_TARGET).split(",") if t.strip()]


def channel_tls(args: argparse.Namespace, parser: argparse.ArgumentParser) -> ChannelTls | None:
    """The TLS the flags ask for; ``None`` for plaintext. Exits through ``parser.error``
    when a file is missing or the flags do not go together."""
    if not (args.tls or args.ca or args.cert or args.key):
        return None
    if bool(args.cert) != bool(args.key):
        parser.error("--cert and --key go together (a client certificate and its key)")
    return ChannelTls(
        root_certificates=_read(parser, "--ca", args.ca),
        private_key=_read(parser, "--key", args.key),
        certificate_chain=_read(parser, "--cert", args.cert),
    )


def channel_credentials(
    args: argparse.Namespace, parser: argparse.ArgumentParser
) -> grpc.ChannelCredentials | None:
    """:func:`channel_tls` as grpc's credentials."""
    tls = channel_tls(args, parser)
    return None if tls is None else tls.credentials()


def _read(parser: argparse.ArgumentParser, flag: str, name: str) -> bytes | None:
    if not name:
        return None
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        parser.error(f"{flag} {name}: {exc.strerror or exc}")
