"""Flags: the parser, checked values, and the environment fallback (``NEXY_STREAM_<FLAG>``).

A flag wins over its variable. A variable is read when the parser is built but converted
only when its own subcommand runs (:func:`resolve_environment`), so a bad ``NEXY_STREAM_PORT``
stops ``serve`` with an error that names it and leaves ``say`` and ``tail`` alone.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

ENV_PREFIX = "NEXY_STREAM_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"", "0", "false", "no", "off"}

Convert = Callable[[str], Any]


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every flag's default, except where there is none to show (unset, off, empty)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        default = action.default
        if default is None or default is False or default == "" or default == []:
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """Usage errors in one line, prefixed by the (sub)command, exit status 2:
    ``nexy-stream serve: error: argument --port: 70000 is not a port number (0 to 65535)``.

    A subcommand's parser may complete itself from its own arguments before it parses them,
    and only when that subcommand runs (``prepare``): ``serve --pipeline X`` adds the
    settings of X, and the other subcommands never import a pipeline.
    """

    def __init__(
        self,
        *args: Any,
        prepare: Callable[[Parser, list[str]], None] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self._prepare = prepare

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if self._prepare is not None:
            prepare, self._prepare = self._prepare, None
            prepare(self, list(sys.argv[1:] if args is None else args))
        return super().parse_known_args(args, namespace)


# -- values: each converter's message names the value and what was expected ------------------


def _number(text: str, kind: type[int] | type[float]) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not {'a whole number' if kind is int else 'a number'}"
        )
    return value


def integer(text: str) -> int:
    return int(_number(text, int))


def port(text: str) -> int:
    value = int(_number(text, int))
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0 to 65535)")
    return value


def positive_int(text: str) -> int:
    value = int(_number(text, int))
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def positive_float(text: str) -> float:
    value = float(_number(text, float))
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value:g}")
    return value


def non_negative_float(text: str) -> float:
    value = float(_number(text, float))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value:g}")
    return value


def fraction(text: str) -> float:
    value = float(_number(text, float))
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {value:g}")
    return value


def address(text: str) -> str:
    """A host, or a HOST:PORT target: anything but nothing."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an address is needed, got nothing")
    return text.strip()


def switch(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in _TRUE | _FALSE:
        raise ValueError(f"{raw!r} is not one of 1, true, yes, on, 0, false, no, off")
    return value in _TRUE


def log_level(text: str) -> str:
    if text.upper() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(LOG_LEVELS)}")
    return text.upper()


# -- the environment ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnvDefault:
    """A flag's value taken from the environment, converted when its subcommand runs."""

    env: str
    flag: str
    raw: str
    convert: Convert

    def __str__(self) -> str:  # as --help shows the default
        return f"{self.raw} from {self.env}"


def env_name(flag: str) -> str:
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()


def env_option(
    parser: argparse.ArgumentParser,
    flag: str,
    kind: Convert,
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
    raw = None if listed_only else os.environ.get(env)
    if listed_only:
        default = None
    (group or parser).add_argument(
        flag,
        type=kind,
        default=default if raw is None else EnvDefault(env, flag, raw, kind),
        help=f"{help} [env {env}]",
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
    raw = None if listed_only else os.environ.get(env)
    (group or parser).add_argument(
        flag,
        action="store_const",
        const=True,
        default=(None if listed_only else False)
        if raw is None
        else EnvDefault(env, flag, raw, switch),
        help=f"{help} [env {env}=1]",
    )


def env_value(env: str, default: str) -> str:
    """The raw value of variable ``env``, or ``default`` (for a flag read ahead of parsing)."""
    return os.environ.get(env, default)


def resolve_environment(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Converts the values taken from the environment; a bad one stops the subcommand with
    a usage error that names the variable and its flag."""
    for name, value in vars(args).items():
        if isinstance(value, EnvDefault):
            try:
                setattr(args, name, value.convert(value.raw))
            except (ValueError, argparse.ArgumentTypeError) as exc:
                parser.error(f"{value.env} (for {value.flag}): {exc}")
