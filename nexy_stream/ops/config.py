"""Settings of the operator-facing endpoints (kept free of server imports)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OpsConfig:
    # The admin gRPC service gets its own server only when given a port; otherwise it is
    # served on the public port, so `tail` works out of the box.
    admin_host: str = "127.0.0.1"
    admin_port: int | None = None  # 0 picks a free port (tests)
    # The Prometheus endpoint is off unless given a port.
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None  # 0 picks a free port (tests)
    # A worker of `serve --workers N`: metrics go to prometheus_client's multiprocess files
    # (PROMETHEUS_MULTIPROC_DIR), and the supervisor serves one /metrics for all workers.
    metrics_shared: bool = False
    # Events a watcher may have queued before further ones are dropped for it...
    feed_buffer: int = 1024
    # ...and how many it may miss in a row before it is disconnected.
    feed_max_skipped: int = 10_000
    max_watchers: int = 64

    def __post_init__(self) -> None:
        if self.feed_buffer <= 0 or self.feed_max_skipped <= 0 or self.max_watchers <= 0:
            raise ValueError("feed_buffer, feed_max_skipped and max_watchers must be positive")
        if self.metrics_shared and self.metrics_port is not None:
            raise ValueError("a worker's metrics are served by its supervisor, not on a port")

    @property
    def records_metrics(self) -> bool:
        return self.metrics_port is not None or self.metrics_shared
