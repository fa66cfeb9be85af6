"""Options that can also come from the environment (``NEXY_STREAM_<FLAG>``); a flag wins."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

ENV_PREFIX = "NEXY_STREAM_"


def env_option(
    parser: argparse.ArgumentParser,
    flag: str,
    kind: Callable[[str], object],
    default: object,
    help: str,
) -> None:
    env = ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()
    raw = os.environ.get(env)
    try:
        value = kind(raw) if raw is not None else default
    except ValueError:
        parser.error(f"{env}={raw!r} is not a valid {getattr(kind, '__name__', 'value')}")
    parser.add_argument(
        flag, type=kind, default=value, help=f"{help} [env {env}, default {default}]"
    )
