"""How the client commands (``say``, ``tail``, ``load``) reach a server: address, TLS and
bearer token.

One set of flags for all three, so a server run with ``serve --tls-cert ... --tls-client-ca
... --auth-tokens ...`` is reachable by every tool the same way.
"""

from __future__ import annotations

import argparse
import os

import grpc

from nexy_stream.cli import tls_files
from nexy_stream.cli.options import address, env_name, env_option
from nexy_stream.client.channel import CallMetadata, ChannelTls, bearer_metadata

DEFAULT_TARGET = "127.0.0.1:50051"


def add_connection_options(
    parser: argparse.ArgumentParser, target_help: str, several: bool = False
) -> None:
    """``several``: ``--target`` may be repeated, and its variable may list several,
    comma-separated (read them with :func:`connection_targets`)."""
    if several:
        parser.add_argument(
            "--target",
            action="append",
            type=address,
            help=f"{target_help} [env {env_name('--target')}, comma-separated; "
            f"default: {DEFAULT_TARGET}]",
        )
    else:
        env_option(parser, "--target", address, DEFAULT_TARGET, target_help)
    parser.add_argument(
        "--tls", action="store_true", help="use TLS, trusting the system's roots unless --ca"
    )
    env_option(parser, "--ca", str, "", "PEM CA that signed the server's certificate (TLS)")
    env_option(parser, "--cert", str, "", "PEM client certificate for mutual TLS (with --key)")
    env_option(parser, "--key", str, "", "PEM private key of --cert")
    env_option(
        parser,
        "--token",
        str,
        "",
        "bearer token for a server with authentication on (prefer the environment: "
        "a flag shows in the process list)",
    )


def call_metadata(args: argparse.Namespace, parser: argparse.ArgumentParser) -> CallMetadata:
    """The metadata every call carries: the bearer token, if one was given."""
    try:
        return bearer_metadata(args.token or None)
    except ValueError as exc:
        parser.error(f"--token: {exc}")


def connection_targets(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
    """The targets of a command whose ``--target`` may be repeated: the flags, else its
    variable (read only now, so only this command minds a bad one), else the default."""
    if args.target:
        return list(args.target)
    env = env_name("--target")
    raw = os.environ.get(env, DEFAULT_TARGET)
    targets = [target.strip() for target in raw.split(",") if target.strip()]
    if not targets:
        parser.error(f"{env} (for --target): an address is needed, got {raw!r}")
    return targets


def channel_tls(args: argparse.Namespace, parser: argparse.ArgumentParser) -> ChannelTls | None:
    """The TLS the flags ask for, as PEM bytes (they may cross to another process); ``None``
    for plaintext. Exits through ``parser.error`` when a file is missing or wrong, or the
    flags do not go together."""
    if not (args.tls or args.ca or args.cert or args.key):
        return None
    if bool(args.cert) != bool(args.key):
        parser.error("--cert and --key go together (a client certificate and its key)")
    roots = tls_files.check_certificates(parser, "--ca", args.ca) if args.ca else None
    chain = key = None
    if args.cert:
        chain, key = tls_files.check_key_pair(parser, ("--cert", args.cert), ("--key", args.key))
    return ChannelTls(root_certificates=roots, private_key=key, certificate_chain=chain)


def channel_credentials(
    args: argparse.Namespace, parser: argparse.ArgumentParser
) -> grpc.ChannelCredentials | None:
    """:func:`channel_tls` as grpc's credentials."""
    tls = channel_tls(args, parser)
    return None if tls is None else tls.credentials()
