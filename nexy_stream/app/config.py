"""Server settings, with the defaults `make run` uses."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from nexy_stream.auth.config import AuthConfig
from nexy_stream.netaddr import host_port, is_loopback
from nexy_stream.ops.config import OpsConfig
from nexy_stream.session import Limits, Speculation


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM files of the public port's TLS; with ``client_ca_file``, clients must present a
    certificate signed by it (mutual TLS)."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None

    def credentials(self) -> grpc.ServerCredentials:
        """Reads the files now, so a missing or unreadable one stops start-up by name."""
        ca = self.client_ca_file.read_bytes() if self.client_ca_file else None
        return grpc.ssl_server_credentials(
            [(self.key_file.read_bytes(), self.cert_file.read_bytes())],
            root_certificates=ca,
            require_client_auth=ca is not None,
        )


def quarter_of_memory() -> int:
    """A quarter of the machine's memory: the default bound on what sessions may hold."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 50051  # 0 picks a free port (tests)
    tls: TlsFiles | None = None  # None: plaintext (loopback, or behind a TLS-terminating proxy)
    limits: Limits = field(default_factory=Limits)
    max_live_sessions: int = 10_000
    # One credential, or one network address without one, may hold this many at once.
    max_sessions_per_principal: int = 1_000
    max_sessions_per_peer: int = 1_000
    # Bytes all sessions may hold at once (collect buffers, committed utterances).
    max_buffered_bytes: int = field(default_factory=lambda: quarter_of_memory())
    # How long a stopping server lets running sessions finish before cancelling them.
    shutdown_grace_s: float = 10.0
    # HTTP/2 keepalive: a dead peer of an idle stream is noticed within ping + timeout.
    keepalive_s: float = 30.0
    keepalive_timeout_s: float = 10.0
    # Connections are recycled after this long (load balancing); streams get max_duration to end.
    max_connection_age_s: float = 1800.0
    # Worker processes of `serve --workers N` share the port (SO_REUSEPORT); off otherwise,
    # so a second server on a taken port fails instead of quietly sharing it.
    reuse_port: bool = False
    # Where legacy utterances wait between their calls: "" in this process's memory, or a
    # redis:// (rediss://, unix://) URL every process and machine serving them shares.
    legacy_store: str = ""
    # Admin feed and metrics endpoints (see nexy_stream.ops).
    ops: OpsConfig = field(default_factory=OpsConfig)
    # Who may call (token file, JWT key, legacy clients); off unless configured.
    auth: AuthConfig = field(default_factory=AuthConfig)
    # Answers prepared during collect, held until commit (None: off); needs a pipeline that
    # can prepare (see nexy_stream.pipeline.PreparingPipeline).
    speculation: Speculation | None = None

    def __post_init__(self) -> None:
        """Protected mode: without authentication, nothing listens beyond loopback unless
        ``auth.insecure_no_auth`` says so (an open admin feed lists every device id)."""
        if self.auth.enabled or self.auth.insecure_no_auth:
            return
        admin_host = self.ops.admin_host if self.ops.admin_port is not None else self.host
        for port, host in (("public", self.host), ("admin", admin_host)):
            if not is_loopback(host):
                raise ValueError(
                    f"refusing to listen on {host or 'every interface'} ({port} port) without "
                    "authentication: give --auth-tokens FILE (or --auth-jwt-key FILE), or "
                    "--insecure-no-auth to let in anyone who reaches the port"
                )

    @property
    def address(self) -> str:
        return host_port(self.host, self.port)

    @property
    def transport_max_frame_bytes(self) -> int:
        """The largest message gRPC reads, above ``max_frame_bytes`` on purpose.

        Frames between the two reach the handlers, which refuse them in band naming
        ``max_frame_bytes``: grpcio does not tell a handler why it refused a message (the
        handler only sees the stream end, like a half-close), so a frame gRPC refuses
        could not end its session as the error it is. Far larger frames are still cut by
        gRPC before they are buffered whole.
        """
        return 2 * self.limits.max_frame_bytes + 1024 * 1024

    def grpc_options(self) -> list[tuple[str, int]]:
        ms = 1000
        return [
            ("grpc.max_receive_message_length", self.transport_max_frame_bytes),
            ("grpc.keepalive_time_ms", int(self.keepalive_s * ms)),
            ("grpc.keepalive_timeout_ms", int(self.keepalive_timeout_s * ms)),
            ("grpc.http2.min_recv_ping_interval_without_data_ms", 5 * ms),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.max_connection_age_ms", int(self.max_connection_age_s * ms)),
            ("grpc.max_connection_age_grace_ms", int((self.limits.max_duration_s + 10) * ms)),
            ("grpc.so_reuseport", int(self.reuse_port)),
        ]
