"""One server process from start to graceful stop: what ``nexy-stream serve`` runs, alone
or as each worker of ``serve --workers N``."""

from __future__ import annotations

import logging
import signal
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

import anyio
import anyio.abc

from nexy_stream.app.config import ServerConfig
from nexy_stream.app.server import RunningServer, start_server
from nexy_stream.auth import AuthConfig, Authenticator
from nexy_stream.netaddr import host_port, redacted
from nexy_stream.pipeline import Pipeline, pipeline_name, preparing
from nexy_stream.pipeline.registry import PipelineLoadError

logger = logging.getLogger("nexy_stream")

StopWhen = Callable[[], Awaitable[str]]  # waits until the server should stop; says why


async def serve(
    config: ServerConfig,
    make_pipeline: Callable[[], Pipeline],
    authenticator: Authenticator | None,
    stop_when: StopWhen,
    on_ready: Callable[[RunningServer], None] | None = None,
) -> None:
    """Serves until ``stop_when`` returns, then stops gracefully; SIGHUP meanwhile re-reads
    the token file.

    The pipeline is built on the event loop (a factory may open clients bound to it) and,
    if it has an ``aclose``, closed after the server has stopped.
    """
    async with AsyncExitStack() as resources:
        pipeline = make_pipeline()
        if callable(close := getattr(pipeline, "aclose", None)):
            resources.push_async_callback(close)
        check_speculation(config, pipeline)
        running = await start_server(config, pipeline, authenticator=authenticator)
        async with anyio.create_task_group() as tasks:
            await tasks.start(reload_on_sighup, authenticator)
            for line in banner(running, pipeline):
                logger.info(line)
            if on_ready is not None:
                on_ready(running)
            why = await stop_when()
            tasks.cancel_scope.cancel()
        logger.info("%s: stopping (grace %gs)", why, config.shutdown_grace_s)
        await running.stop()


async def stop_signal() -> str:
    """Waits for SIGINT or SIGTERM and names it. Only the first is caught: a second Ctrl-C
    during the grace period interrupts the process as usual."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            return signal.Signals(signum).name
    raise AssertionError("a signal receiver does not end")  # pragma: no cover


async def reload_on_sighup(
    authenticator: Authenticator | None,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """SIGHUP: re-read the token file (a bad one keeps the credentials in force)."""
    with anyio.open_signal_receiver(signal.SIGHUP) as signals:
        task_status.started()
        async for _ in signals:
            if authenticator is None:
                logger.info("SIGHUP: authentication is off, nothing to reload")
            else:
                authenticator.reload()


def banner(running: RunningServer, pipeline: Pipeline) -> list[str]:
    """The start-up log: where it serves, what answers (and whether it speculates), where
    the admin feed and the metrics are, and who may call."""
    config, ops = running.config, running.ops
    security = "plaintext" if config.tls is None else "TLS"
    admin = ops.admin_target or f"{running.target} (the public port)"
    lines = [
        "serving nexy.stream.v1 and the legacy streaming.StreamingService on "
        f"{running.target} ({security})",
        f"pipeline {pipeline_name(pipeline)}",
    ]
    if (speculation := config.speculation) is not None:
        lines.append(
            "speculation: answers prepared during collect once the text has stayed the same "
            f"{speculation.after_s:g}s (or is marked stable), {speculation.max_per_session} "
            "per session at most"
        )
    lines.append(f"admin feed (nexy-stream tail --target ...) on {admin}, {security}")
    if ops.metrics_port is not None:
        where = host_port(ops.config.metrics_host, ops.metrics_port)
        lines.append(f"Prometheus metrics on http://{where}/metrics")
    if config.legacy_store:
        lines.append(f"legacy utterances wait between calls in {redacted(config.legacy_store)}")
    lines.append(describe_auth(running.authenticator, config.auth))
    return lines


def check_speculation(config: ServerConfig, pipeline: Pipeline) -> None:
    """Raises :class:`PipelineLoadError` (a usage error) when the server is to speculate and
    ``pipeline`` cannot prepare answers."""
    if config.speculation is None or preparing(pipeline) is not None:
        return
    raise PipelineLoadError(
        f"--speculate: the {pipeline_name(pipeline)} pipeline cannot prepare answers before "
        "the commit (it has no prepare(request, committed) step); drop --speculate, or run a "
        "pipeline that can, such as openai"
    )


def describe_auth(authenticator: Authenticator | None, config: AuthConfig) -> str:
    """The start-up log line about authentication."""
    if authenticator is None and config.insecure_no_auth:
        return "authentication off (--insecure-no-auth): anyone who reaches the port may call"
    if authenticator is None:
        return "authentication off: listening on loopback only"
    return f"authentication: {authenticator.describe()}; legacy clients: {config.legacy.value}"
