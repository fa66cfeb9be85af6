"""How a command behaves as a process: its error lines, Ctrl-C, a closed pipe, a terminal."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TextIO

EXIT_FAILED = 1
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130, as a shell reports a command ended by Ctrl-C
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # 141, as for any tool whose reader went away


def fail(parser: argparse.ArgumentParser, message: str) -> int:
    """Says what went wrong in one line, prefixed by the subcommand; returns exit status 1."""
    print(f"{parser.prog}: {message}", file=sys.stderr)
    return EXIT_FAILED


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal, so escape codes and redraws are welcome there."""
    try:
        return stream.isatty()
    except ValueError:  # closed
        return False


@contextmanager
def interrupts(on_interrupt: Callable[[], None]) -> Iterator[None]:
    """Within the block, Ctrl-C (SIGINT) calls ``on_interrupt`` instead of raising
    KeyboardInterrupt somewhere in the event loop, so a command ends its own way: cancels
    its work, prints what it has, and exits without a traceback. Runs in the event loop
    (grpc.aio runs on asyncio only); a plain context manager, so the block's exceptions
    come out as themselves. Off the main thread (where no signal arrives) it does nothing."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
    except RuntimeError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def forget_stdout() -> None:
    """After the reader of stdout went away (``say | head``): points stdout at /dev/null, so
    the interpreter's last flush does not print ``Broken pipe`` on its way out."""
    with suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
