"""The operations flags of ``nexy-stream serve``: admin feed, metrics and log format."""

from __future__ import annotations

import argparse

from nexy_stream.cli.options import env_option
from nexy_stream.logformat import LOG_FORMATS, configure_logging
from nexy_stream.ops.config import OpsConfig

_DEFAULT = OpsConfig()


def log_format(value: str) -> str:
    if value not in LOG_FORMATS:
        raise ValueError(value)
    return value


def register(serve: argparse.ArgumentParser) -> None:
    c = _DEFAULT
    env_option(
        serve,
        "--admin-port",
        int,
        c.admin_port,
        "serve the admin feed (tail) on a port of its own; unset: on the public port",
    )
    env_option(serve, "--admin-host", str, c.admin_host, "address of the admin port")
    env_option(
        serve, "--metrics-port", int, c.metrics_port, "serve Prometheus /metrics (unset: off)"
    )
    env_option(serve, "--metrics-host", str, c.metrics_host, "address of the metrics port")
    env_option(serve, "--log-format", log_format, "text", "text or json (one object per line)")


def config_from(args: argparse.Namespace) -> OpsConfig:
    configure_logging(args.log_level, args.log_format)
    return OpsConfig(
        admin_host=args.admin_host,
        admin_port=args.admin_port,
        metrics_host=args.metrics_host,
        metrics_port=args.metrics_port,
    )
