"""The network address of a gRPC peer, without its port: what per-address quotas count."""

from __future__ import annotations


def peer_host(peer: str | None) -> str:
    """``ipv4:10.0.0.7:51234`` -> ``10.0.0.7``; ``ipv6:[::1]:51234`` -> ``::1``; anything
    else (a unix socket, an unknown peer) as it is."""
    if not peer:
        return ""
    scheme, _, rest = peer.partition(":")
    if scheme == "ipv4":
        return rest.rpartition(":")[0] or rest
    if scheme == "ipv6":
        host = rest.rpartition(":")[0] if rest.startswith("[") else rest
        return host.strip("[]")
    return peer
