"""The ``nexy-stream`` command line: one module per subcommand, each with ``register``
(its flags) and ``run``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib import metadata

from nexy_stream.cli import auth, load, say, serve, tail
from nexy_stream.cli.options import Parser, resolve_environment
from nexy_stream.cli.process import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, forget_stdout

SUBCOMMANDS = (serve, say, load, tail, auth)


def version() -> str:
    try:
        return metadata.version("nexy-stream")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="nexy-stream", description="nexy-stream server, client and tools")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        command = module.register(commands)
        command.set_defaults(run=module.run, command_parser=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command: argparse.ArgumentParser = args.command_parser
    resolve_environment(args, command)
    logging.basicConfig(
        level=getattr(args, "log_level", "WARNING"),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        code: int = args.run(args, command)
    except KeyboardInterrupt:  # Ctrl-C outside a command's own handling (e.g. at start-up)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `nexy-stream ... | head`: the reader has what it wanted
        forget_stdout()
        return EXIT_BROKEN_PIPE
    return code


if __name__ == "__main__":
    sys.exit(main())
