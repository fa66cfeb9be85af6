"""Options that can also come from the environment (``NEXY_STREAM_<FLAG>``); a flag wins."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

ENV_PREFIX = "NEXY_STREAM_"
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"", "0", "false", "no", "off"}


def env_name(flag: str) -> str:
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()


def env_option(
    parser: argparse.ArgumentParser,
    flag: str,
    kind: Callable[[str], object],
    default: object,
    help: str,
    group: argparse._ArgumentGroup | None = None,
    listed_only: bool = False,
) -> None:
    """Adds ``flag`` (to ``group`` when given), its default read from the environment.

    ``listed_only``: shown in ``--help`` but not in use, so the environment is not read and
    its value is ``None`` unless given (the caller refuses it then).
    """
    env = env_name(flag)
    value = None if listed_only else env_value(parser, env, kind, default)
    (group or parser).add_argument(
        flag, type=kind, default=value, help=f"{help} [env {env}, default {default}]"
    )


def env_switch(
    parser: argparse.ArgumentParser,
    flag: str,
    help: str,
    group: argparse._ArgumentGroup | None = None,
    listed_only: bool = False,
) -> None:
    """Adds an on/off ``flag``, off unless given or its variable says 1, true, yes or on;
    ``listed_only`` as for :func:`env_option`."""
    env = env_name(flag)
    value = None if listed_only else env_value(parser, env, switch, False)
    (group or parser).add_argument(
        flag, action="store_const", const=True, default=value, help=f"{help} [env {env}=1]"
    )


def env_value(
    parser: argparse.ArgumentParser, env: str, kind: Callable[[str], object], default: object
) -> object:
    """The value of variable ``env`` as ``kind``, or ``default``; exits when it is invalid."""
    raw = os.environ.get(env)
    try:
        return kind(raw) if raw is not None else default
    except ValueError:
        parser.error(f"{env}={raw!r} is not a valid {getattr(kind, '__name__', 'value')}")


def switch(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in _TRUE | _FALSE:
        raise ValueError(raw)
    return value in _TRUE


class CommandParser(argparse.ArgumentParser):
    """A subcommand's parser that may complete itself from its own arguments before it
    parses them, and only when that subcommand runs: ``serve --pipeline X`` adds the
    settings of X, and the other subcommands never import a pipeline."""

    def __init__(
        self,
        *args: Any,
        prepare: Callable[[CommandParser, list[str]], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._prepare = prepare

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if self._prepare is not None:
            prepare, self._prepare = self._prepare, None
            prepare(self, list(sys.argv[1:] if args is None else args))
        return super().parse_known_args(args, namespace)
