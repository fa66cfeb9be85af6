"""Everything operators see of one server, wired to its sessions."""

from __future__ import annotations

import grpc
from grpc_reflection.v1alpha import reflection

from nexy_stream.auth import Authenticator
from nexy_stream.netaddr import host_port
from nexy_stream.ops.admin import ADMIN_SERVICE, AdminService
from nexy_stream.ops.config import OpsConfig
from nexy_stream.ops.feed import FeedHub
from nexy_stream.ops.lifecycle import LifecycleObserver, Sink
from nexy_stream.ops.live import LiveSessions
from nexy_stream.ops.logs import log_session_end
from nexy_stream.ops.metrics import MetricsEndpoint, SessionMetrics
from nexy_stream.ops.stats import Rollup
from nexy_stream.server.hosting import Hosting


class Operations:
    """The session observer, the feed, the metrics and their endpoints.

    Built before the public server starts (its observer and, by default, the admin
    service go onto that server); :meth:`start` opens the endpoints of their own,
    :meth:`stop` closes everything it opened. ``authenticator`` (``None``: authentication
    off) guards the admin service wherever it is served.
    """

    def __init__(
        self,
        config: OpsConfig,
        hosting: Hosting,
        authenticator: Authenticator | None,
    ) -> None:
        self.config = config
        self.live = LiveSessions(hosting)
        self.rollup = Rollup()
        self.feed = FeedHub(config, self.live)
        self.metrics = (
            SessionMetrics(self.live, shared=config.metrics_shared)
            if config.records_metrics
            else None
        )
        sinks: list[Sink] = [self.rollup.record, self.feed.publish, log_session_end]
        if self.metrics is not None:
            sinks.append(self.metrics.record)
        self.observer = LifecycleObserver(sinks, self.live.note)
        self.admin = AdminService(self.feed, self.live, self.rollup, authenticator)
        self._metrics_endpoint: MetricsEndpoint | None = None
        self._admin_server: grpc.aio.Server | None = None
        self.admin_port: int | None = None

    @property
    def admin_on_public_server(self) -> bool:
        return self.config.admin_port is None

    @property
    def metrics_port(self) -> int | None:
        return self._metrics_endpoint.port if self._metrics_endpoint is not None else None

    @property
    def admin_target(self) -> str | None:
        """Where the admin service has a server of its own; ``None`` when it has not."""
        if self.admin_port is None:
            return None
        return host_port(self.config.admin_host, self.admin_port)

    async def start(self, credentials: grpc.ServerCredentials | None = None) -> None:
        """Opens the endpoints of their own; the admin server with ``credentials`` (the public
        port's TLS) when given, so the feed is no less protected than the sessions it shows.
        """
        try:
            if self.metrics is not None:
                self.metrics.start()
                if self.config.metrics_port is not None:
                    self._metrics_endpoint = MetricsEndpoint.start(
                        self.metrics.registry, self.config.metrics_host, self.config.metrics_port
                    )
            if self.config.admin_port is not None:
                await self._start_admin_server(
                    host_port(self.config.admin_host, self.config.admin_port), credentials
                )
        except BaseException:
            await self.stop()
            raise

    async def _start_admin_server(
        self, wanted: str, credentials: grpc.ServerCredentials | None
    ) -> None:
        server = grpc.aio.server()
        self._admin_server = server
        server.add_generic_rpc_handlers([self.admin.handler()])
        reflection.enable_server_reflection([ADMIN_SERVICE, reflection.SERVICE_NAME], server)
        try:
            if credentials is None:
                self.admin_port = server.add_insecure_port(wanted)
            else:
                self.admin_port = server.add_secure_port(wanted, credentials)
        except RuntimeError as exc:  # grpcio raises rather than returning 0 on some versions
            raise OSError(f"cannot listen on {wanted} (admin): {exc}") from exc
        if self.admin_port == 0:
            raise OSError(f"cannot listen on {wanted} (admin)")
        await server.start()

    async def stop(self) -> None:
        """Ends the watchers (so they do not hold up a graceful stop), then the endpoints."""
        self.feed.close()
        if self._admin_server is not None:
            await self._admin_server.stop(0)
            self._admin_server = None
        if self._metrics_endpoint is not None:
            await self._metrics_endpoint.stop()
            self._metrics_endpoint = None
        if self.metrics is not None:
            await self.metrics.stop()
