"""The operations flags of ``nexy-stream serve``: admin feed, metrics and log format."""

from __future__ import annotations

import argparse

from nexy_stream.cli.listen import Endpoint
from nexy_stream.cli.options import address, env_option, port
from nexy_stream.logformat import LOG_FORMATS
from nexy_stream.ops.config import OpsConfig

_DEFAULT = OpsConfig()


def log_format(value: str) -> str:
    if value.lower() not in LOG_FORMATS:
        raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(LOG_FORMATS)}")
    return value.lower()


def register(serve: argparse.ArgumentParser) -> None:
    c = _DEFAULT
    env_option(
        serve,
        "--admin-port",
        port,
        c.admin_port,
        "serve the admin feed (tail) on a port of its own; unset: on the public port",
    )
    env_option(serve, "--admin-host", address, c.admin_host, "address of the admin port")
    env_option(
        serve, "--metrics-port", port, c.metrics_port, "serve Prometheus /metrics (unset: off)"
    )
    env_option(serve, "--metrics-host", address, c.metrics_host, "address of the metrics port")
    env_option(serve, "--log-format", log_format, "text", "text or json (one object per line)")


def config_from(args: argparse.Namespace) -> OpsConfig:
    return OpsConfig(
        admin_host=args.admin_host,
        admin_port=args.admin_port,
        metrics_host=args.metrics_host,
        metrics_port=args.metrics_port,
    )


def endpoints_wanted(config: OpsConfig) -> list[Endpoint]:
    """The ports of their own the flags ask for, to be tried before the server starts."""
    wanted = []
    if (admin := config.admin_port) is not None:
        wanted.append(Endpoint("--admin-host", "--admin-port", config.admin_host, admin))
    if (metrics := config.metrics_port) is not None:
        wanted.append(Endpoint("--metrics-host", "--metrics-port", config.metrics_host, metrics))
    return wanted
