"""Assembles a whole server: the session service, the legacy endpoint, operations, health
checking and reflection. The composition root: nothing below imports it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from nexy_stream.app.config import ServerConfig
from nexy_stream.legacy.keeper import LegacySessions
from nexy_stream.legacy.servicer import LEGACY_SERVICE, legacy_service
from nexy_stream.netaddr import host_port
from nexy_stream.ops.admin import ADMIN_SERVICE
from nexy_stream.ops.operations import Operations
from nexy_stream.pipeline import Pipeline
from nexy_stream.server.hosting import Hosting
from nexy_stream.server.observer import SessionObserver
from nexy_stream.server.registry import SessionRegistry
from nexy_stream.server.service import SESSION_SERVICE, session_service

LAST_WORDS_S = 0.5  # after the grace period: time for the sessions' final frames


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    registry: SessionRegistry
    health: Any  # grpc_health ships no type information
    config: ServerConfig
    ops: Operations
    legacy: LegacySessions
    hosting: Hosting

    @property
    def target(self) -> str:
        return host_port(self.config.host, self.port)

    async def stop(self, grace_s: float | None = None) -> None:
        """Refuse new sessions, tell the live ones how long they have (``going_away``),
        end those still open after the grace period with UNAVAILABLE, then stop.

        gRPC gets a moment more than the sessions, so each ends with its own in-band
        reason rather than a bare cancellation.
        """
        grace = self.config.shutdown_grace_s if grace_s is None else grace_s
        self.ops.feed.close()  # watchers never end by themselves: they would use up the grace
        await self.health.enter_graceful_shutdown()
        self.hosting.deadlines.announce_shutdown(grace)
        await self.server.stop(grace + LAST_WORDS_S)
        await self.hosting.deadlines.aclose()
        await self.legacy.aclose()
        await self.ops.stop()


async def start_server(
    config: ServerConfig,
    pipeline: Pipeline,
    observers: tuple[SessionObserver, ...] = (),
    interceptors: Sequence[grpc.aio.ServerInterceptor[Any, Any]] = (),
) -> RunningServer:
    """Starts serving; ``interceptors`` are where authentication and tracing plug in."""
    registry = SessionRegistry(config.max_live_sessions)
    ops = Operations(config.ops, registry)
    hosting = Hosting(config.limits, (*observers, ops.observer))
    server = grpc.aio.server(options=config.grpc_options(), interceptors=interceptors)
    server.add_generic_rpc_handlers([session_service(registry, pipeline, hosting)])
    # Old clients' per-call protocol, hosted on the same actors, registry and pipeline.
    legacy = LegacySessions(registry, hosting)
    server.add_generic_rpc_handlers([legacy_service(legacy, pipeline)])
    if ops.admin_on_public_server:
        server.add_generic_rpc_handlers([ops.admin.handler()])
    health_servicer = health.aio.HealthServicer()  # type: ignore[attr-defined]  # untyped re-export
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [
            SESSION_SERVICE,
            LEGACY_SERVICE,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
            *([ADMIN_SERVICE] if ops.admin_on_public_server else []),
        ],
        server,
    )
    credentials = config.tls.credentials() if config.tls is not None else None
    try:
        if credentials is None:
            port = server.add_insecure_port(config.address)
        else:
            port = server.add_secure_port(config.address, credentials)
    except RuntimeError as exc:  # grpcio raises rather than returning 0 on some versions
        raise OSError(f"cannot listen on {config.address}: {exc}") from exc
    if port == 0:
        raise OSError(f"cannot listen on {config.address}")
    await ops.start(credentials)
    try:
        await server.start()
    except BaseException:
        await ops.stop()
        raise
    legacy.start()
    hosting.deadlines.start()
    for service in ("", SESSION_SERVICE, LEGACY_SERVICE):
        await health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server, port, registry, health_servicer, config, ops, legacy, hosting)
