"""Prints the HAProxy rules that ask a gRPC server's ``grpc.health.v1`` if it is SERVING.

HAProxy 2.6 (Debian 12) cannot do it with ``http-check``: a gRPC message starts with NUL
bytes (its 5-byte length prefix), which ``http-check send body`` cannot carry, and
``http-check expect`` has no binary match. So ``haproxy.cfg`` speaks HTTP/2 itself, in a
``tcp-check`` on a fresh connection: the client preface, an empty SETTINGS frame, a HEADERS
frame (HPACK literals: no Huffman coding, no dynamic table) and a DATA frame carrying a
``HealthCheckRequest``; then it expects the ``HealthCheckResponse`` with ``status: SERVING``.
NOT_SERVING (a server that is draining), an unknown service or a refused stream never
match, so the check fails at ``timeout check``.

    python deploy/haproxy/grpc_health_check.py [--service NAME] [--authority HOST]

The empty service name (the default) asks about the whole server.
"""

from __future__ import annotations

import argparse

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, SETTINGS = 0x0, 0x1, 0x4
END_STREAM, END_HEADERS = 0x1, 0x4
STREAM = 1
# HPACK static table (RFC 7541, appendix A)
METHOD_POST, SCHEME_HTTP = 3, 6
AUTHORITY, PATH, CONTENT_TYPE = 1, 4, 31
SERVING = 1


def frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    header = len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big")
    return header + payload


def integer(value: int, prefix_bits: int, first: int = 0) -> bytes:
    """An HPACK integer (RFC 7541, 5.1) whose first byte starts with ``first``."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out, value = [first | limit], value - limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    return bytes([*out, value])


def string(text: str) -> bytes:
    raw = text.encode()
    return integer(len(raw), 7) + raw  # no Huffman coding


def literal(name: int | str, value: str) -> bytes:
    """A header field without indexing, its name from the static table or given."""
    if isinstance(name, int):
        return integer(name, 4) + string(value)
    return b"\x00" + string(name) + string(value)


def grpc_message(payload: bytes) -> bytes:
    return b"\x00" + len(payload).to_bytes(4, "big") + payload  # uncompressed


def health_request(service: str) -> bytes:
    """``HealthCheckRequest{service}`` in protobuf: field 1, a string."""
    raw = service.encode()
    return b"\x0a" + integer(len(raw), 7) + raw if raw else b""


def rules(service: str = "", authority: str = "nexy-stream") -> list[str]:
    block = (
        integer(METHOD_POST, 7, 0x80)
        + integer(SCHEME_HTTP, 7, 0x80)
        + literal(PATH, "/grpc.health.v1.Health/Check")
        + literal(AUTHORITY, authority)
        + literal(CONTENT_TYPE, "application/grpc")
        + literal("te", "trailers")
    )
    sends = [
        ("HTTP/2 client preface", PREFACE),
        ("SETTINGS, empty", frame(SETTINGS, 0, 0, b"")),
        ("HEADERS: POST /grpc.health.v1.Health/Check", frame(HEADERS, END_HEADERS, STREAM, block)),
        (
            f"DATA: HealthCheckRequest service={service!r}",
            frame(DATA, END_STREAM, STREAM, grpc_message(health_request(service))),
        ),
    ]
    serving = grpc_message(b"\x08" + bytes([SERVING])).hex()
    return [
        "option tcp-check",
        "tcp-check connect",
        *(f'tcp-check send-binary {data.hex()} comment "{what}"' for what, data in sends),
        f'tcp-check expect binary {serving} comment "HealthCheckResponse status=SERVING"',
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--service", default="", help="the service to ask about ('': all)")
    parser.add_argument("--authority", default="nexy-stream", help="the :authority header")
    args = parser.parse_args()
    for rule in rules(args.service, args.authority):
        print(f"    {rule}")


if __name__ == "__main__":
    main()
