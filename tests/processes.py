"""`nexy-stream serve` as a real process, its log read as it comes."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator

import anyio

START_TIMEOUT_S = 60.0  # two workers import grpc on a busy 2-core machine
SERVING = r"serving nexy\.stream\.v1 .* on (\S+) \("  # its group: the address


class Served:
    """A ``nexy-stream serve`` process. Its stderr is read on a thread, all of it, so a
    chatty server never blocks on a full pipe, and lines can be waited for."""

    def __init__(self, *flags: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nexy_stream", "serve", *flags],
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._ended = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    @property
    def log(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def wait_for_line(
        self, pattern: str, after: int = 0, timeout: float = START_TIMEOUT_S
    ) -> tuple[re.Match[str], int]:
        """The first line from index ``after`` on that matches, and the index after it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            seen = after
            while True:
                for index in range(seen, len(self.lines)):
                    if found := re.search(pattern, self.lines[index]):
                        return found, index + 1
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if self._ended or left <= 0:
                    why = "the server ended" if self._ended else f"not within {timeout}s"
                    raise AssertionError(f"no line matching {pattern!r} ({why}):\n{self.log}")
                self._changed.wait(left)

    async def line(self, pattern: str, after: int = 0) -> tuple[re.Match[str], int]:
        return await anyio.to_thread.run_sync(self.wait_for_line, pattern, after)

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 60.0) -> int:
        return self.process.wait(timeout=timeout)

    async def exited(self) -> int:
        """Its exit status, once it has ended (waited for off the event loop)."""
        return await anyio.to_thread.run_sync(self.wait)

    async def stopped(self) -> int:
        """SIGTERM (a clean stop), then its exit status."""
        self.signal(signal.SIGTERM)
        return await self.exited()

    def close(self) -> None:
        """Kills the process if it still runs (a failed test must not leave it behind)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextlib.asynccontextmanager
async def serving(
    *flags: str, env: dict[str, str] | None = None, ready: str = SERVING
) -> AsyncIterator[tuple[Served, str]]:
    """``nexy-stream serve --port 0 *flags``, and its address once a line of its log matches
    ``ready`` (the pattern's first group). Killed at the end if it still runs."""
    served = await anyio.to_thread.run_sync(lambda: Served("--port", "0", *flags, env=env))
    try:
        found, _ = await served.line(ready)
        yield served, found[1]
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(served.close)
