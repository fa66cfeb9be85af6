"""How the client commands (``say``, ``tail``, ``load``) reach a server: address, TLS and
bearer token.

One set of flags for all three, so a server run with ``serve --tls-cert ... --tls-client-ca
... --auth-tokens ...`` is reachable by every tool the same way.
"""

from __future__ import annotations

import argparse

import grpc

from nexy_stream.cli import tls_files
from nexy_stream.cli.options import address, env_option
from nexy_stream.client.channel import CallMetadata, bearer_metadata


def add_connection_options(parser: argparse.ArgumentParser, target_help: str) -> None:
    env_option(parser, "--target", address, "127.0.0.1:50051", target_help)
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


def channel_credentials(
    args: argparse.Namespace, parser: argparse.ArgumentParser
) -> grpc.ChannelCredentials | None:
    """The TLS credentials the flags ask for; ``None`` for plaintext. Exits through
    ``parser.error`` when a file is missing or wrong, or the flags do not go together."""
    if not (args.tls or args.ca or args.cert or args.key):
        return None
    if bool(args.cert) != bool(args.key):
        parser.error("--cert and --key go together (a client certificate and its key)")
    roots = tls_files.check_certificates(parser, "--ca", args.ca) if args.ca else None
    chain = key = None
    if args.cert:
        chain, key = tls_files.check_key_pair(parser, ("--cert", args.cert), ("--key", args.key))
    return grpc.ssl_channel_credentials(
        root_certificates=roots, private_key=key, certificate_chain=chain
    )
