"""TLS files named by flags, checked before anything starts: a missing, unreadable or wrong
file is one line that names the flag and the file, not a failure deep inside gRPC."""

from __future__ import annotations

import argparse
import ssl
from pathlib import Path


def read(parser: argparse.ArgumentParser, flag: str, name: str) -> bytes:
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        parser.error(f"{flag} {name}: {exc.strerror or exc}")


def check_certificates(parser: argparse.ArgumentParser, flag: str, name: str) -> bytes:
    """The file's bytes, once it is known to hold PEM certificates."""
    data = read(parser, flag, name)
    try:
        ssl.create_default_context().load_verify_locations(cafile=name)
    except (ssl.SSLError, ValueError):
        parser.error(f"{flag} {name}: no PEM certificate in it")
    return data


def check_key_pair(
    parser: argparse.ArgumentParser, cert: tuple[str, str], key: tuple[str, str]
) -> tuple[bytes, bytes]:
    """The certificate's and the key's bytes, once the key is known to be the certificate's
    (``cert`` and ``key`` are each a flag and its file)."""
    certificate = check_certificates(parser, *cert)
    (key_flag, key_name), (cert_flag, cert_name) = key, cert
    private_key = read(parser, key_flag, key_name)
    try:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_name, key_name, password=_no_password)
    except (ssl.SSLError, ValueError):
        parser.error(
            f"{key_flag} {key_name}: not the PEM private key of {cert_flag} {cert_name} "
            "(or it is encrypted)"
        )
    return certificate, private_key


def _no_password() -> bytes:
    # Never the interactive prompt: an encrypted key is refused like a wrong one.
    return b""
