"""Assembles a whole server: the session service, the legacy endpoint, operations, health
checking and reflection. The composition root: nothing below imports it."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from nexy_stream.app.callers import legacy_owner, session_owner
from nexy_stream.app.config import ServerConfig
from nexy_stream.auth import Authenticator
from nexy_stream.legacy.keeper import LegacySessions
from nexy_stream.legacy.servicer import LEGACY_SERVICE, legacy_service
from nexy_stream.legacy.store import LegacyStore, MemoryStore
from nexy_stream.netaddr import host_port
from nexy_stream.ops.admin import ADMIN_SERVICE
from nexy_stream.ops.operations import Operations
from nexy_stream.pipeline import Pipeline, pipeline_name, preparing
from nexy_stream.server.admission import Quotas
from nexy_stream.server.clock import Clock, LoopClock
from nexy_stream.server.hosting import Hosting
from nexy_stream.server.live import Sessions
from nexy_stream.server.observer import SessionObserver
from nexy_stream.server.registry import SessionRegistry
from nexy_stream.server.service import SESSION_SERVICE, session_service
from nexy_stream.server.stream import CLIENT_CLOSE_WAIT_S
from nexy_stream.server.tasks import ServerTasks
from nexy_stream.session import ByteBudget

# After the grace period: time for the sessions' final frames and for their clients to
# read them and half-close (a stream waits CLIENT_CLOSE_WAIT_S for that) before gRPC cancels
# the calls still open, which drops what a client has not read yet.
LAST_WORDS_S = CLIENT_CLOSE_WAIT_S + 0.5


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: Any  # grpc_health ships no type information
    config: ServerConfig
    ops: Operations
    legacy: LegacyStore
    hosting: Hosting
    tasks: ServerTasks
    authenticator: Authenticator | None  # None: authentication is off

    @property
    def target(self) -> str:
        return host_port(self.config.host, self.port)

    @property
    def registry(self) -> SessionRegistry:
        return self.hosting.registry

    async def stop(self, grace_s: float | None = None) -> None:
        """Stops without losing an utterance in flight.

        Health turns NOT_SERVING and no new session is admitted (a v1 open gets UNAVAILABLE
        in band), but the port stays open through the grace period: v1 sessions are told
        how long they have (``going_away``) and a legacy client whose utterance is collected
        can still send its commit call. Once every session has ended, or the grace is over
        (those still open end with UNAVAILABLE, in band), gRPC stops; it gets a moment more
        than the sessions, so each ends with its own reason rather than a bare cancellation.
        """
        grace = self.config.shutdown_grace_s if grace_s is None else grace_s
        self.ops.feed.close()  # watchers never end by themselves: they would use up the grace
        await self.health.enter_graceful_shutdown()
        self.hosting.admission.stop_admitting()
        self.hosting.deadlines.announce_shutdown(grace)
        with anyio.move_on_after(grace + LAST_WORDS_S):
            await self.hosting.drained()
        await self.server.stop(LAST_WORDS_S)
        await self.hosting.deadlines.aclose()
        await self.tasks.aclose()
        await self.legacy.aclose()
        await self.ops.stop()


def listen(
    server: grpc.aio.Server, address: str, credentials: grpc.ServerCredentials | None
) -> int:
    """Binds the public port; ``OSError`` when it cannot."""
    try:
        if credentials is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, credentials)
    except RuntimeError as exc:  # grpcio raises rather than returning 0 on some versions
        raise OSError(f"cannot listen on {address}: {exc}") from exc
    if port == 0:
        raise OSError(f"cannot listen on {address}")
    return port


async def legacy_store(config: ServerConfig, sessions: LegacySessions) -> LegacyStore:
    """Where legacy utterances wait between calls: this process, or the shared store."""
    if not config.legacy_store:
        return MemoryStore(sessions)
    from nexy_stream.legacy.shared import RedisStore  # loads the Redis client only if used

    return await RedisStore.connect(config.legacy_store, sessions, quotas(config).committed_ttl_s)


def quotas(config: ServerConfig) -> Quotas:
    return Quotas(
        max_live_sessions=config.max_live_sessions,
        max_sessions_per_principal=config.max_sessions_per_principal,
        max_sessions_per_peer=config.max_sessions_per_peer,
        committed_ttl_s=config.limits.idle_timeout_s,
    )


async def start_server(
    config: ServerConfig,
    pipeline: Pipeline,
    observers: tuple[SessionObserver, ...] = (),
    interceptors: Sequence[grpc.aio.ServerInterceptor[Any, Any]] = (),
    clock: Clock | None = None,
    authenticator: Authenticator | None = None,
) -> RunningServer:
    """Starts serving; ``interceptors`` are where tracing plugs in; ``clock`` is the one every
    deadline reads (the event loop's unless a test brings its own). ``authenticator`` (built
    from ``config.auth`` by ``Authenticator.from_config``; ``None``: authentication off)
    checks who calls.

    Sessions are told the pipeline's ``name`` attribute (e.g. ``"echo"``), if it has one, so
    a client knows what answers it (the load generator checks the exact echo only then).
    ``config.speculation`` needs a pipeline that can prepare (``ValueError`` otherwise).
    """
    if config.speculation is not None and preparing(pipeline) is None:
        raise ValueError(f"speculation needs a pipeline that can prepare; {pipeline!r} cannot")
    hosting = Hosting(
        config.limits,
        clock or LoopClock(),
        quotas(config),
        ByteBudget(config.max_buffered_bytes),
        pipeline_name=pipeline_name(pipeline),
        speculation=config.speculation,
    )
    ops = Operations(config.ops, hosting, authenticator)
    hosting.observers = (*observers, ops.observer)
    server = grpc.aio.server(options=config.grpc_options(), interceptors=interceptors)
    tasks = ServerTasks()
    sessions = Sessions(hosting.budget, hosting.deadlines, secrets.token_hex(4), hosting.clock.now)
    server.add_generic_rpc_handlers(
        [session_service(pipeline, hosting, sessions, tasks, session_owner(authenticator))]
    )
    # Old clients' per-call protocol, hosted on the same actors, admission and pipeline.
    legacy = await legacy_store(config, LegacySessions(hosting, sessions))
    legacy_auth = legacy_owner(authenticator, config.auth.legacy)
    server.add_generic_rpc_handlers([legacy_service(legacy, pipeline, tasks, legacy_auth)])
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
    try:
        credentials = config.tls.credentials() if config.tls is not None else None
        port = listen(server, config.address, credentials)
        await ops.start(credentials)
        await server.start()
    except BaseException:
        await ops.stop()
        await legacy.aclose()
        raise
    await tasks.start()
    hosting.deadlines.start()
    for service in ("", SESSION_SERVICE, LEGACY_SERVICE):
        await health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(
        server, port, health_servicer, config, ops, legacy, hosting, tasks, authenticator
    )
