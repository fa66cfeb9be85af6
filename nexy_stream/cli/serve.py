"""``nexy-stream serve``: run the server with the embedded echo pipeline."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import anyio

from nexy_stream.app.config import ServerConfig, TlsFiles
from nexy_stream.cli import ops_options
from nexy_stream.cli.options import env_option
from nexy_stream.session import Limits

_DEFAULT_CONFIG = ServerConfig()
_DEFAULT_LIMITS = Limits()


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="run the server with the embedded echo pipeline")
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
    env_option(
        serve, "--echo-word-delay", float, c.echo_word_delay_s, "seconds between echoed words"
    )
    env_option(
        serve,
        "--workers",
        worker_count,
        1,
        "server processes on the port (SO_REUSEPORT, Linux); auto: one per core",
    )
    env_option(serve, "--log-level", str, "INFO", "DEBUG, INFO, WARNING or ERROR")
    ops_options.register(serve)
    serve.set_defaults(run=run)


def worker_count(value: str) -> int:
    """``--workers``: a positive count, or ``auto`` for the cores this process may use."""
    count = len(os.sched_getaffinity(0)) if value == "auto" else int(value)
    if count < 1:
        raise ValueError(value)
    return count


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
        echo_word_delay_s=args.echo_word_delay,
        ops=ops_options.config_from(args),
    )


def tls_from(args: argparse.Namespace) -> TlsFiles | None:
    if not (args.tls_cert or args.tls_key or args.tls_client_ca):
        return None
    if not (args.tls_cert and args.tls_key):
        raise ValueError("--tls-cert and --tls-key go together (and --tls-client-ca needs both)")
    ca = Path(args.tls_client_ca) if args.tls_client_ca else None
    return TlsFiles(Path(args.tls_cert), Path(args.tls_key), ca)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        config = config_from(args)
    except ValueError as exc:
        parser.error(str(exc))
    # Imported here: the other subcommands (client tools) never load the server.
    try:
        if args.workers == 1:
            from nexy_stream.app.serving import serve, stop_signal

            anyio.run(serve, config, stop_signal, backend="asyncio")
            return 0
        from nexy_stream.app.supervisor import supervise

        log = (args.log_level, args.log_format)
        return anyio.run(supervise, config, args.workers, *log, backend="asyncio")
    except OSError as exc:
        print(f"nexy-stream: {exc}", file=sys.stderr)
        return 1
