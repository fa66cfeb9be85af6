"""The ``nexy-stream`` command line: one module per subcommand, each with ``register``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from nexy_stream.cli import auth, load, say, serve, tail

SUBCOMMANDS = (serve, say, load, tail, auth)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nexy-stream", description="nexy-stream server, client and tools"
    )
    commands = parser.add_subparsers(dest="command", required=True)
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
