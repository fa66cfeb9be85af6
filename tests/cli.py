"""The ``nexy-stream`` command run as a user runs it: a process of its own."""

from __future__ import annotations

import io
import os
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

NEXY_STREAM = str(Path(sys.executable).parent / "nexy-stream")


@dataclass(frozen=True)
class Done:
    code: int
    out: str
    err: str


async def nexy_stream(
    *args: str,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Done:
    """Runs the command to its end; ``env`` adds to this process's environment."""
    with anyio.fail_after(60):
        done = await anyio.run_process(
            [NEXY_STREAM, *args],
            input=stdin,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            check=False,
        )
    return Done(done.returncode, done.stdout.decode(), done.stderr.decode())


async def serve_refuses(*flags: str, env: dict[str, str] | None = None) -> list[str]:
    """The stderr lines of a `serve` that must exit 2 at once (its usage lines left out)."""
    done = await nexy_stream("serve", "--port", "0", *flags, env=env)
    assert done.code == 2, done.err
    return [line for line in done.err.splitlines() if not line.startswith("usage:")]


async def start_cli(*args: str) -> Process:
    """Starts the command; the caller reads its output and waits for it."""
    return await anyio.open_process([NEXY_STREAM, *args])


async def read_all(lines: BufferedByteReceiveStream) -> str:
    """The rest of a stream, up to its end."""
    chunks = [lines.buffer]
    try:
        while True:
            chunks.append(await lines.receive())
    except anyio.EndOfStream:
        return b"".join(chunks).decode()


async def ctrl_c(*args: str, once: bytes, on_stderr: bool = False) -> Done:
    """Runs the command, and once it has printed ``once`` (on stdout, or stderr) it is
    under way: sends it Ctrl-C (SIGINT) and waits for its end. Never after a fixed sleep."""
    process = await start_cli(*args)
    async with process, anyio.create_task_group() as tasks:
        assert process.stdout is not None and process.stderr is not None
        streams = (
            BufferedByteReceiveStream(process.stdout),
            BufferedByteReceiveStream(process.stderr),
        )
        with anyio.fail_after(60):
            gate = streams[on_stderr]
            seen = await gate.receive_until(once, 1 << 20) + once
            printed = ["", ""]

            async def read(index: int) -> None:
                printed[index] = await read_all(streams[index])

            for index in (0, 1):
                tasks.start_soon(read, index)
            process.send_signal(signal.SIGINT)
            code = await process.wait()
    printed[on_stderr] = seen.decode() + printed[on_stderr]
    return Done(code, *printed)


def free_port() -> int:
    """A port nothing listens on (bound and let go at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Terminal(io.StringIO):
    """Written text, standing for a terminal (where escape codes and redraws belong)."""

    def isatty(self) -> bool:
        return True
