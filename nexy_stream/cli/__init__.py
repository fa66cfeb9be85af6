"""The ``nexy-stream`` command line: one module per subcommand, each with ``register``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from nexy_stream.cli import load, say, serve, tail
from nexy_stream.cli.options import CommandParser

SUBCOMMANDS = (serve, say, load, tail)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nexy-stream", description="nexy-stream server, client and tools"
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=CommandParser)
    for module in SUBCOMMANDS:
        module.register(commands)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(args, "log_level", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    code: int = args.run(args, parser)
    return code


if __name__ == "__main__":
    sys.exit(main())
