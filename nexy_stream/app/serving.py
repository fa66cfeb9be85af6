"""One server process from start to graceful stop: what ``nexy-stream serve`` runs, alone
or as each worker of ``serve --workers N``."""

from __future__ import annotations

import logging
import signal
from collections.abc import Awaitable, Callable

import anyio

from nexy_stream.app.config import ServerConfig
from nexy_stream.app.server import RunningServer, start_server
from nexy_stream.netaddr import host_port
from nexy_stream.pipeline import EchoPipeline

logger = logging.getLogger("nexy_stream")

StopWhen = Callable[[], Awaitable[str]]  # waits until the server should stop; says why


async def serve(
    config: ServerConfig,
    stop_when: StopWhen,
    on_ready: Callable[[RunningServer], None] | None = None,
) -> None:
    """Serves with the echo pipeline until ``stop_when`` returns, then stops gracefully."""
    running = await start_server(config, EchoPipeline(word_delay_s=config.echo_word_delay_s))
    logger.info(
        "serving nexy.stream.v1 and the legacy streaming.StreamingService on %s (%s)",
        running.target,
        "plaintext" if config.tls is None else "TLS",
    )
    for line in endpoints(running):
        logger.info(line)
    if on_ready is not None:
        on_ready(running)
    why = await stop_when()
    logger.info("%s: stopping (grace %gs)", why, config.shutdown_grace_s)
    await running.stop()


async def stop_signal() -> str:
    """Waits for SIGINT or SIGTERM and names it. Only the first is caught: a second Ctrl-C
    during the grace period interrupts the process as usual."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            return signal.Signals(signum).name
    raise AssertionError("a signal receiver does not end")  # pragma: no cover


def endpoints(running: RunningServer) -> list[str]:
    """Where the admin feed and the metrics are, for the start-up log."""
    ops = running.ops
    admin = ops.admin_target or f"{running.target} (the public port)"
    security = "plaintext" if running.config.tls is None else "TLS"
    lines = [f"admin feed (nexy-stream tail --target ...) on {admin}, {security}"]
    if ops.metrics_port is not None:
        where = host_port(ops.config.metrics_host, ops.metrics_port)
        lines.append(f"Prometheus metrics on http://{where}/metrics")
    return lines
