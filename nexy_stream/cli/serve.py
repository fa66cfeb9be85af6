"""``nexy-stream serve``: run the server with the pipeline ``--pipeline`` names."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from nexy_stream.app.config import ServerConfig, TlsFiles
from nexy_stream.cli import ops_options, pipeline_options
from nexy_stream.cli.options import env_option
from nexy_stream.session import Limits

if TYPE_CHECKING:
    from nexy_stream.pipeline import Pipeline

_DEFAULT_CONFIG = ServerConfig()
_DEFAULT_LIMITS = Limits()


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the server (--pipeline echo, openai or your own)",
        prepare=pipeline_options.prepare,
    )
    c, lim = _DEFAULT_CONFIG, _DEFAULT_LIMITS
    env_option(serve, "--host", str, c.host, "address to listen on")
    env_option(serve, "--port", int, c.port, "port to listen on (0: any free port)")
    env_option(serve, "--tls-cert", str, "", "PEM certificate chain: serve TLS (with --tls-key)")
    env_option(serve, "--tls-key", str, "", "PEM private key of --tls-cert")
    env_option(serve, "--tls-client-ca", str, "", "PEM CA: require client certificates (mTLS)")
    env_option(serve, "--max-live-sessions", int, c.max_live_sessions, "sessions open at once")
    env_option(serve, "--max-text-bytes", int, lim.max_text_bytes, "largest text of a session")
    env_option(serve, "--max-chunks", int, lim.max_chunks, "collect frames applied per session")
    env_option(serve, "--max-screenshot-bytes", int, lim.max_screenshot_bytes, "largest screenshot")
    env_option(serve, "--max-frame-bytes", int, lim.max_frame_bytes, "largest frame read")
    env_option(
        serve, "--idle-timeout", float, lim.idle_timeout_s, "seconds without a frame before commit"
    )
    env_option(serve, "--max-duration", float, lim.max_duration_s, "seconds a session may last")
    env_option(
        serve,
        "--shutdown-grace",
        float,
        c.shutdown_grace_s,
        "seconds sessions get to finish on stop",
    )
    env_option(serve, "--log-level", str, "INFO", "DEBUG, INFO, WARNING or ERROR")
    ops_options.register(serve)
    serve.set_defaults(run=run)


def config_from(args: argparse.Namespace) -> ServerConfig:
    limits = Limits(
        max_text_bytes=args.max_text_bytes,
        max_chunks=args.max_chunks,
        max_screenshot_bytes=args.max_screenshot_bytes,
        max_frame_bytes=args.max_frame_bytes,
        idle_timeout_s=args.idle_timeout,
        max_duration_s=args.max_duration,
    )
    return ServerConfig(
        host=args.host,
        port=args.port,
        tls=tls_from(args),
        limits=limits,
        max_live_sessions=args.max_live_sessions,
        shutdown_grace_s=args.shutdown_grace,
        ops=ops_options.config_from(args),
    )


def tls_from(args: argparse.Namespace) -> TlsFiles | None:
    if not (args.tls_cert or args.tls_key or args.tls_client_ca):
        return None
    if not (args.tls_cert and args.tls_key):
        raise ValueError("--tls-cert and --tls-key go together (and --tls-client-ca needs both)")
    ca = Path(args.tls_client_ca) if args.tls_client_ca else None
    return TlsFiles(Path(args.tls_cert), Path(args.tls_key), ca)


async def serve(config: ServerConfig, make_pipeline: Callable[[], Pipeline]) -> None:
    """Serve until SIGINT or SIGTERM, then stop gracefully.

    The pipeline is built on the event loop (a factory may open clients bound to it) and,
    if it has an ``aclose``, closed after the server has stopped.
    """
    # Imported here: the other subcommands (client tools) never load the server.
    from nexy_stream.app.server import start_server
    from nexy_stream.pipeline import pipeline_name

    log = logging.getLogger("nexy_stream")
    async with AsyncExitStack() as resources:
        pipeline = make_pipeline()
        if callable(close := getattr(pipeline, "aclose", None)):
            resources.push_async_callback(close)
        running = await start_server(config, pipeline)
        log.info(
            "serving nexy.stream.v1 and the legacy streaming.StreamingService on %s (%s)",
            running.target,
            "plaintext" if config.tls is None else "TLS",
        )
        log.info("pipeline %s", pipeline_name(pipeline))
        for line in ops_options.endpoints(running):
            log.info(line)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                log.info(
                    "%s: stopping (grace %gs)",
                    signal.Signals(signum).name,
                    config.shutdown_grace_s,
                )
                break
        await running.stop()


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from nexy_stream.pipeline.registry import PipelineLoadError

    try:
        config = config_from(args)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        anyio.run(serve, config, lambda: pipeline_options.build(args), backend="asyncio")
    except PipelineLoadError as exc:
        print(f"nexy-stream serve: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"nexy-stream: {exc}", file=sys.stderr)
        return 1
    return 0
