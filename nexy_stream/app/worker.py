"""One worker process of ``nexy-stream serve --workers N`` (:data:`COMMAND` starts one).

Started by the supervisor (:mod:`nexy_stream.app.supervisor`) as a fresh interpreter, so no
gRPC state ever crosses a ``fork``. Its pipes are its contract with the supervisor:

- stdin carries its :class:`WorkerSpec` (pickled), then stays open as a lifeline: when it
  closes (the supervisor is gone, even killed), the worker stops gracefully by itself;
- stdout carries one JSON line once it serves (``{"target": ..., "admin": ...}``), nothing else;
- stderr is the supervisor's, so logs go where the operator reads them, each with its
  ``worker`` index.

SIGTERM (from the supervisor) stops it gracefully, with the grace of its configuration.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
from dataclasses import dataclass

import anyio

from nexy_stream.app.config import ServerConfig
from nexy_stream.app.server import RunningServer
from nexy_stream.app.serving import StopWhen, serve, stop_signal
from nexy_stream.auth import Authenticator
from nexy_stream.logformat import configure_logging
from nexy_stream.pipeline.registry import PipelineLoadError, PipelineRecipe

# Not ``-m``: the spec's classes then unpickle from this module, not from a second copy.
COMMAND = (sys.executable, "-c", f"from {__name__} import main; main()")


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    index: int
    config: ServerConfig
    pipeline: PipelineRecipe  # each worker builds its own, on its own event loop
    log_level: str
    log_format: str


@dataclass(frozen=True, slots=True)
class Ready:
    """What a worker reports once it serves."""

    pid: int
    target: str
    admin: str | None  # its admin feed's own address; None: on the public port

    def line(self) -> bytes:
        return json.dumps({"pid": self.pid, "target": self.target, "admin": self.admin}).encode()

    @classmethod
    def parse(cls, line: bytes) -> Ready:
        data = json.loads(line)
        return cls(int(data["pid"]), str(data["target"]), data["admin"])


async def lifeline_closed() -> str:
    """Returns when stdin reaches its end: the supervisor closed it or died."""
    fd = sys.stdin.fileno()
    while True:
        await anyio.wait_readable(fd)
        if not os.read(fd, 4096):
            return "the supervisor is gone"


async def first_of(*waits: StopWhen) -> str:
    """Waits for whichever returns first; cancels the others."""
    why = ""

    async def wait(one: StopWhen) -> None:
        nonlocal why
        why = await one()
        tasks.cancel_scope.cancel()

    async with anyio.create_task_group() as tasks:
        for one in waits:
            tasks.start_soon(wait, one)
    return why


def report_ready(running: RunningServer) -> None:
    ready = Ready(os.getpid(), running.target, running.ops.admin_target)
    sys.stdout.buffer.write(ready.line() + b"\n")
    sys.stdout.buffer.flush()


async def run(spec: WorkerSpec) -> None:
    """Serves until SIGTERM or the lifeline closes; its own authenticator (from the same
    files), so SIGHUP (forwarded by the supervisor) re-reads them here too."""
    authenticator = Authenticator.from_config(spec.config.auth)
    await serve(spec.config, spec.pipeline.build, authenticator, stopped, report_ready)


async def stopped() -> str:
    return await first_of(stop_signal, lifeline_closed)


def main() -> None:
    spec: WorkerSpec = pickle.load(sys.stdin.buffer)
    configure_logging(spec.log_level, spec.log_format, {"worker": spec.index})
    try:
        anyio.run(run, spec, backend="asyncio")
    except (OSError, RuntimeError, PipelineLoadError) as exc:
        # A port taken, a file gone since the checks, a pipeline that cannot start: the
        # supervisor reports that this worker ended before it served.
        print(f"nexy-stream worker {spec.index}: {exc}", file=sys.stderr)
        sys.exit(1)
