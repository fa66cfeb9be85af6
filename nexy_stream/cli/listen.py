"""Addresses the server will listen on, tried before it starts: a host that does not resolve
or is not this machine's, or a port in use, is one line naming the flags and the address."""

from __future__ import annotations

import argparse
import socket
from dataclasses import dataclass

from nexy_stream.netaddr import host_port


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One listening address and the flags that set it."""

    host_flag: str
    port_flag: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host_flag} {self.host} {self.port_flag} {self.port}"


def check(parser: argparse.ArgumentParser, endpoints: list[Endpoint]) -> None:
    for endpoint in endpoints:
        problem = why_not(endpoint.host, endpoint.port)
        if problem is not None:
            parser.error(f"{endpoint}: {problem}")


def why_not(host: str, port: int) -> str | None:
    """Why nothing can listen on ``host:port``, or ``None`` when it can.

    Binds each address the host resolves to and lets go at once (with SO_REUSEADDR, as
    the servers bind, so a port that only has connections closing is not taken for busy).
    gRPC listens when any of them can be bound, so one is enough here too.
    """
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        return f"{host!r} does not resolve to an address ({getattr(exc, 'strerror', exc)})"
    problem = None
    for family, kind, proto, _, address in found:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                problem = f"cannot listen on {host_port(host, port)}: {exc.strerror or exc}"
                continue
        return None
    return problem
