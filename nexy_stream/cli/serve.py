"""``nexy-stream serve``: run the server with the pipeline ``--pipeline`` names."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import anyio

from nexy_stream.app.config import ServerConfig, TlsFiles
from nexy_stream.cli import (
    auth_options,
    listen,
    ops_options,
    pipeline_options,
    speculation_options,
    tls_files,
)
from nexy_stream.cli.listen import Endpoint
from nexy_stream.cli.options import (
    address,
    env_option,
    log_level,
    non_negative_float,
    port,
    positive_float,
    positive_int,
)
from nexy_stream.cli.process import fail
from nexy_stream.cli.sizes import byte_size, format_bytes
from nexy_stream.logformat import configure_logging
from nexy_stream.netaddr import redacted
from nexy_stream.session import Limits

_DEFAULT_CONFIG = ServerConfig()
_DEFAULT_LIMITS = Limits()


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    serve = commands.add_parser(
        "serve",
        help="run the server (--pipeline echo, openai or your own)",
        description="Serves nexy.stream.v1 and the legacy endpoint until SIGINT or SIGTERM. "
        "Every flag can also come from the environment; a bad value or an address it "
        "cannot listen on stops it with one line naming the flag (exit status 2).",
        prepare=pipeline_options.prepare,
    )
    c, lim = _DEFAULT_CONFIG, _DEFAULT_LIMITS
    env_option(serve, "--host", address, c.host, "address to listen on")
    env_option(serve, "--port", port, c.port, "port to listen on (0: any free port)")
    env_option(serve, "--tls-cert", str, "", "PEM certificate chain: serve TLS (with --tls-key)")
    env_option(serve, "--tls-key", str, "", "PEM private key of --tls-cert")
    env_option(serve, "--tls-client-ca", str, "", "PEM CA: require client certificates (mTLS)")
    env_option(
        serve, "--max-live-sessions", positive_int, c.max_live_sessions, "sessions open at once"
    )
    env_option(
        serve,
        "--max-sessions-per-principal",
        positive_int,
        c.max_sessions_per_principal,
        "sessions one credential may hold open at once",
    )
    env_option(
        serve,
        "--max-sessions-per-peer",
        positive_int,
        c.max_sessions_per_peer,
        "sessions one network address may hold open at once, without a credential",
    )
    env_option(
        serve,
        "--max-buffered-bytes",
        byte_size,
        c.max_buffered_bytes,
        "bytes all sessions of both protocols may hold at once: plain bytes or 512MiB, 2GiB; "
        f"a quarter of this machine's memory ({format_bytes(c.max_buffered_bytes)}) unless "
        "given; with --workers N each worker may hold 1/N of it",
    )
    env_option(
        serve, "--max-text-bytes", positive_int, lim.max_text_bytes, "largest text of a session"
    )
    env_option(
        serve, "--max-chunks", positive_int, lim.max_chunks, "collect frames applied per session"
    )
    env_option(
        serve,
        "--max-screenshot-bytes",
        positive_int,
        lim.max_screenshot_bytes,
        "largest screenshot",
    )
    env_option(
        serve,
        "--max-frame-bytes",
        positive_int,
        lim.max_frame_bytes,
        "largest frame read (above --max-screenshot-bytes)",
    )
    env_option(
        serve,
        "--idle-timeout",
        positive_float,
        lim.idle_timeout_s,
        "seconds without a frame before commit",
    )
    env_option(
        serve, "--max-duration", positive_float, lim.max_duration_s, "seconds a session may last"
    )
    env_option(
        serve,
        "--open-timeout",
        positive_float,
        lim.open_timeout_s,
        "seconds a new stream may take to send its open frame",
    )
    env_option(
        serve,
        "--resume-ttl",
        non_negative_float,
        lim.resume_ttl_s,
        "seconds a session whose stream was lost waits for a resume (0: no resumption)",
    )
    env_option(
        serve,
        "--max-replay-bytes",
        byte_size,
        lim.max_replay_bytes,
        "bytes of a session's answer kept after they were sent, for a resume (512KiB, 4MiB)",
    )
    env_option(
        serve,
        "--shutdown-grace",
        non_negative_float,
        c.shutdown_grace_s,
        "seconds sessions get to finish on stop",
    )
    env_option(
        serve,
        "--workers",
        worker_count,
        1,
        "server processes sharing the port (SO_REUSEPORT, Linux; see docs/deployment.md), "
        "each holding 1/N of --max-buffered-bytes; auto: one per core",
    )
    env_option(
        serve,
        "--legacy-store",
        legacy_store_url,
        c.legacy_store,
        "keep legacy utterances between their calls in Redis or Valkey (redis://HOST:PORT/DB, "
        "rediss://, unix://), shared by every process and machine naming it, so each call may "
        "reach another; unset: in this process's memory (docs/deployment.md)",
    )
    env_option(serve, "--log-level", log_level, "INFO", "DEBUG, INFO, WARNING or ERROR")
    ops_options.register(serve)
    auth_options.register(serve)
    speculation_options.register(serve)
    return serve


def worker_count(value: str) -> int:
    """``--workers``: a positive count, or ``auto`` for the cores this process may use."""
    if value.strip().lower() == "auto":
        return len(os.sched_getaffinity(0))
    try:
        return positive_int(value)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc}, or auto (one per core)") from None


LEGACY_STORE_SCHEMES = ("redis://", "rediss://", "unix://")


def legacy_store_url(text: str) -> str:
    """``--legacy-store``: a Redis URL (or nothing: in memory)."""
    url = text.strip()
    if url and not url.startswith(LEGACY_STORE_SCHEMES):
        raise argparse.ArgumentTypeError(
            f"{url!r} is not a Redis URL (redis://HOST:PORT/DB, rediss://... or unix://...)"
        )
    return url


def check_legacy_store(parser: argparse.ArgumentParser, url: str) -> None:
    """Stops with one line when the store does not answer: better now than at a call."""
    import redis

    try:
        with redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5) as client:
            client.ping()
    except (redis.RedisError, ValueError) as exc:
        parser.error(f"--legacy-store {redacted(url)}: cannot reach it: {exc}")


def config_from(args: argparse.Namespace, parser: argparse.ArgumentParser) -> ServerConfig:
    """The settings the flags ask for, once every file and address is known to work."""
    if args.max_frame_bytes <= args.max_screenshot_bytes:
        parser.error(
            f"--max-frame-bytes {args.max_frame_bytes} must exceed --max-screenshot-bytes "
            f"{args.max_screenshot_bytes}: a frame carries the screenshot"
        )
    for flag in ("max_buffered_bytes", "max_replay_bytes"):
        if getattr(args, flag) <= 0:
            parser.error(f"--{flag.replace('_', '-')} must be above 0, got {getattr(args, flag)}")
    limits = Limits(
        max_text_bytes=args.max_text_bytes,
        max_chunks=args.max_chunks,
        max_screenshot_bytes=args.max_screenshot_bytes,
        max_frame_bytes=args.max_frame_bytes,
        idle_timeout_s=args.idle_timeout,
        max_duration_s=args.max_duration,
        open_timeout_s=args.open_timeout,
        resume_ttl_s=args.resume_ttl,
        max_replay_bytes=args.max_replay_bytes,
    )
    config = ServerConfig(
        host=args.host,
        port=args.port,
        tls=tls_from(args, parser),
        limits=limits,
        max_live_sessions=args.max_live_sessions,
        max_sessions_per_principal=args.max_sessions_per_principal,
        max_sessions_per_peer=args.max_sessions_per_peer,
        max_buffered_bytes=args.max_buffered_bytes,
        shutdown_grace_s=args.shutdown_grace,
        legacy_store=args.legacy_store,
        ops=ops_options.config_from(args),
        auth=auth_options.config_from(args),
        speculation=speculation_options.config_from(args),
    )
    public = Endpoint("--host", "--port", config.host, config.port)
    listen.check(parser, [public, *ops_options.endpoints_wanted(config.ops)])
    if config.legacy_store:
        check_legacy_store(parser, config.legacy_store)
    return config


def tls_from(args: argparse.Namespace, parser: argparse.ArgumentParser) -> TlsFiles | None:
    if not (args.tls_cert or args.tls_key or args.tls_client_ca):
        return None
    if not (args.tls_cert and args.tls_key):
        parser.error("--tls-cert and --tls-key go together (and --tls-client-ca needs both)")
    tls_files.check_key_pair(parser, ("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key))
    if args.tls_client_ca:
        tls_files.check_certificates(parser, "--tls-client-ca", args.tls_client_ca)
    ca = Path(args.tls_client_ca) if args.tls_client_ca else None
    return TlsFiles(Path(args.tls_cert), Path(args.tls_key), ca)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from nexy_stream.pipeline.registry import PipelineLoadError

    try:
        config = config_from(args, parser)
        authenticator = auth_options.authenticator_from(config.auth)
    except ValueError as exc:
        parser.error(str(exc))
    configure_logging(args.log_level, args.log_format)
    # Imported here: the other subcommands (client tools) never load the server.
    try:
        recipe = pipeline_options.recipe(args)
        if args.workers == 1:
            from nexy_stream.app.serving import serve, stop_signal

            anyio.run(serve, config, recipe.build, authenticator, stop_signal, backend="asyncio")
            return 0
        from nexy_stream.app.supervisor import supervise

        log = (args.log_level, args.log_format)
        return anyio.run(supervise, config, args.workers, recipe, *log, backend="asyncio")
    except PipelineLoadError as exc:  # the pipeline asked for cannot run: a usage error
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError) as exc:  # what the checks could not foresee (a race)
        return fail(parser, str(exc))
