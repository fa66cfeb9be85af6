"""``nexy-stream serve --workers N``: N server processes on one port, kept running.

Each worker is a fresh interpreter (:mod:`nexy_stream.app.worker`) that binds the same port
with ``SO_REUSEPORT``, so the kernel (Linux) spreads *connections* over the workers. Every
stream of a connection stays on its worker: to spread streams, put an HTTP/2 proxy in
front (docs/deployment.md). The supervisor itself creates no gRPC object. It

- reserves the port with a bound, non-listening ``SO_REUSEPORT`` socket, so ``--port 0``
  picks one port for all workers and nobody else takes it while a worker restarts;
- gives each worker an admin port of its own (``--admin-port P``: P, P+1, ...; unset: free
  ports picked once), so ``nexy-stream tail`` can follow every worker;
- restarts a worker that exits, after a back-off that doubles while it keeps failing soon
  after its start (0.5 s up to 30 s), logging why;
- on SIGTERM or SIGINT sends SIGTERM to every worker, each of which drains with the
  configured grace, and kills a worker still running well after it; passes SIGHUP on (each
  worker re-reads the token file);
- serves one Prometheus ``/metrics`` for all workers from prometheus_client's multiprocess
  files (``--metrics-port``).

Exit status: 0 stopped and every serving worker drained; 1 could not start (a port, or a
worker that ended before it served); 3 stopped, but a worker did not drain cleanly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from nexy_stream.app.config import ServerConfig
from nexy_stream.app.server import LAST_WORDS_S
from nexy_stream.app.worker import COMMAND, Ready, WorkerSpec
from nexy_stream.netaddr import host_port
from nexy_stream.ops.metrics import MULTIPROC_DIR, MetricsEndpoint
from nexy_stream.pipeline.registry import PipelineRecipe

logger = logging.getLogger("nexy_stream.supervisor")

RESTART_DELAY_S, RESTART_DELAY_MAX_S = 0.5, 30.0
STABLE_AFTER_S = 30.0  # a worker that served this long gets the shortest back-off again
STOP_MARGIN_S = 10.0  # beyond the grace, before a worker that does not stop is killed
EXIT_STOPPED, EXIT_FAILED_TO_START, EXIT_UNCLEAN_STOP = 0, 1, 3
_READY_LINE_BYTES = 64 * 1024


def default_worker_count() -> int:
    """The cores this process may run on (``--workers auto``)."""
    return len(os.sched_getaffinity(0))


@contextlib.contextmanager
def reserved_port(host: str, port: int) -> Iterator[int]:
    """Binds (without listening) an ``SO_REUSEPORT`` socket to ``host:port`` while the
    workers run; yields the port, the one picked when ``port`` is 0."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise OSError(f"cannot listen on {host_port(host, port)}: {exc.strerror}") from exc
        yield int(sock.getsockname()[1])


def restart_delay(ended_in_a_row: int) -> float:
    """The back-off before a worker starts again: 0.5 s, doubling for each time in a row it
    ended soon after its start, up to 30 s, so a worker that cannot start does not spin."""
    doublings = max(ended_in_a_row - 1, 0)
    return min(RESTART_DELAY_S * 2.0**doublings, RESTART_DELAY_MAX_S)


def ending(status: int) -> str:
    """How a process ended, in words: ``exit status 1``, ``killed by SIGKILL``."""
    return f"killed by {signal.Signals(-status).name}" if status < 0 else f"exit status {status}"


def free_ports(host: str, count: int) -> list[int]:
    """``count`` ports free on ``host`` now, each held until all are picked."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with contextlib.ExitStack() as held:
        ports = []
        for _ in range(count):
            sock = held.enter_context(socket.socket(family, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def worker_configs(config: ServerConfig, count: int, port: int) -> list[ServerConfig]:
    """Each worker's settings: the shared port, an admin port of its own, metrics written
    for the supervisor instead of served, and 1/``count`` of ``max_buffered_bytes``, so
    the workers together hold no more than the machine-wide budget."""
    ops = config.ops
    if ops.admin_port:
        admin_ports = [ops.admin_port + index for index in range(count)]
    else:
        admin_ports = free_ports(ops.admin_host, count)
    return [
        dataclasses.replace(
            config,
            port=port,
            reuse_port=True,
            max_buffered_bytes=max(config.max_buffered_bytes // count, 1),
            ops=dataclasses.replace(
                ops,
                admin_port=admin_port,
                metrics_port=None,
                metrics_shared=ops.metrics_port is not None,
            ),
        )
        for admin_port in admin_ports
    ]


class Worker:
    """One worker slot: the process that fills it now, and what became of it."""

    def __init__(self, spec: WorkerSpec, env: dict[str, str]) -> None:
        self.spec = spec
        self._env = env
        self.process: anyio.abc.Process | None = None
        self.ready: Ready | None = None  # of the current process, once it serves
        self.served_once = anyio.Event()
        self.done = anyio.Event()
        self.drained = True  # False when, on stop, it did not exit 0

    @property
    def index(self) -> int:
        return self.spec.index

    async def start(self) -> Ready | None:
        """Starts a process and waits until it serves; ``None`` if it ended before."""
        self.ready = None
        self.process = await anyio.open_process(
            COMMAND,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # the supervisor's: logs go where the operator reads them
            env=self._env,
            start_new_session=True,  # a terminal's Ctrl-C reaches the supervisor only
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            await self.process.stdin.send(pickle.dumps(self.spec))  # then stays open
            line = await BufferedByteReceiveStream(self.process.stdout).receive_until(
                b"\n", _READY_LINE_BYTES
            )
        except (anyio.BrokenResourceError, anyio.IncompleteRead, anyio.DelimiterNotFound):
            return None  # it ended before it served
        self.ready = Ready.parse(line)
        self.served_once.set()
        return self.ready

    def send(self, signum: signal.Signals) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signum)

    def terminate(self) -> None:
        self.send(signal.SIGTERM)

    def kill(self) -> None:
        self.send(signal.SIGKILL)

    async def wait(self) -> int:
        """Waits for the process to end, then closes its pipes (the lifeline with them)."""
        assert self.process is not None
        try:
            return await self.process.wait()
        finally:
            self.kill()  # only when cancelled while it still runs
            with anyio.CancelScope(shield=True):
                await self.process.aclose()


class Supervisor:
    """Keeps ``count`` workers serving until a signal, then drains them (module docstring)."""

    def __init__(
        self,
        config: ServerConfig,
        count: int,
        pipeline: PipelineRecipe,
        log_level: str,
        log_format: str,
    ) -> None:
        if count < 2:
            raise ValueError(f"a supervisor runs 2 workers or more, not {count}")
        if not hasattr(socket, "SO_REUSEPORT") or sys.platform != "linux":
            raise OSError("--workers needs Linux: its SO_REUSEPORT spreads connections")
        self.config = config
        self.count = count
        self._pipeline = pipeline
        self._log = (log_level, log_format)
        self._metrics_on = config.ops.metrics_port is not None
        self._workers: list[Worker] = []
        self._stop = anyio.Event()
        self._why = ""
        self._status = EXIT_STOPPED
        self._registry = CollectorRegistry()
        self._restarts = Counter(
            "nexy_worker_restarts",
            "Worker processes started again after one exited (serve --workers).",
            registry=self._registry,
        )
        self._metrics_dir = ""

    async def run(self) -> int:
        """Runs the workers until a signal stops them; returns the exit status."""
        with (
            anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals,
            reserved_port(self.config.host, self.config.port) as port,
            self._metrics_files() as metrics_dir,
        ):
            self._metrics_dir = metrics_dir
            env = self._worker_env()
            self._workers = [
                Worker(WorkerSpec(index, config, self._pipeline, *self._log), env)
                for index, config in enumerate(worker_configs(self.config, self.count, port))
            ]
            endpoint = self._start_metrics_endpoint()
            try:
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(self._watch, signals)
                    for worker in self._workers:
                        tasks.start_soon(self._keep_running, worker)
                    tasks.start_soon(self._announce, port, endpoint)
                    await self._stop.wait()
                    await self._drain()
                    tasks.cancel_scope.cancel()
            finally:
                if endpoint is not None:
                    await endpoint.stop()
        return self._status

    def stop(self, why: str, status: int = EXIT_STOPPED) -> None:
        if self._stop.is_set():
            return
        self._why, self._status = why, status
        self._stop.set()

    def _metrics_files(self) -> contextlib.AbstractContextManager[str]:
        """Where the workers write their metrics: a fresh directory, removed at the end."""
        if not self._metrics_on:
            return contextlib.nullcontext("")
        return tempfile.TemporaryDirectory(prefix="nexy-stream-metrics-")

    def _worker_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != MULTIPROC_DIR}
        if self._metrics_on:
            env[MULTIPROC_DIR] = self._metrics_dir
        return env

    def _start_metrics_endpoint(self) -> MetricsEndpoint | None:
        ops = self.config.ops
        if ops.metrics_port is None:
            return None
        MultiProcessCollector(self._registry, path=self._metrics_dir)  # type: ignore[no-untyped-call]
        return MetricsEndpoint.start(self._registry, ops.metrics_host, ops.metrics_port)

    async def _watch(self, signals: AsyncIterator[signal.Signals]) -> None:
        async for signum in signals:
            name = signum.name
            if signum == signal.SIGHUP:  # each worker re-reads its token file
                for worker in self._workers:
                    worker.send(signum)
            elif self._stop.is_set():
                logger.info("%s: already stopping (%s)", name, self._why)
            else:
                self.stop(name)

    async def _keep_running(self, worker: Worker) -> None:
        ended_in_a_row = 0  # soon after their start
        try:
            while not self._stop.is_set():
                began = anyio.current_time()
                ready = await worker.start()
                if ready is not None:
                    logger.info(
                        "worker %d (pid %d) serving; admin feed on %s",
                        worker.index,
                        ready.pid,
                        ready.admin,
                    )
                status = await worker.wait()
                self._forget(worker)
                if not worker.served_once.is_set():
                    why = f"worker {worker.index} ended ({ending(status)}) before it served"
                    self.stop(why, EXIT_FAILED_TO_START)
                if self._stop.is_set():
                    worker.drained = ready is None or status == 0
                    return
                served = anyio.current_time() - began
                ended_in_a_row = 1 if served >= STABLE_AFTER_S else ended_in_a_row + 1
                delay = restart_delay(ended_in_a_row)
                logger.warning(
                    "worker %d ended (%s) after %.1fs; starting it again in %gs",
                    worker.index,
                    ending(status),
                    served,
                    delay,
                )
                self._restarts.inc()
                with anyio.move_on_after(delay):
                    await self._stop.wait()
        finally:
            worker.done.set()

    def _forget(self, worker: Worker) -> None:
        """Drops an ended worker's live gauges (its counters keep counting in the totals)."""
        if self._metrics_on and worker.process is not None:
            mark_process_dead(worker.process.pid, self._metrics_dir)  # type: ignore[no-untyped-call]

    async def _announce(self, port: int, endpoint: MetricsEndpoint | None) -> None:
        for worker in self._workers:
            await worker.served_once.wait()
        config = self.config
        logger.info(
            "serving nexy.stream.v1 and the legacy streaming.StreamingService on %s (%s) "
            "with %d workers; SO_REUSEPORT spreads connections, not streams, over them",
            host_port(config.host, port),
            "plaintext" if config.tls is None else "TLS",
            self.count,
        )
        targets = " ".join(f"--target {w.ready.admin}" for w in self._workers if w.ready)
        logger.info("admin feeds of the workers: nexy-stream tail %s", targets)
        if endpoint is not None:
            where = host_port(config.ops.metrics_host, endpoint.port)
            logger.info("Prometheus metrics of all workers on http://%s/metrics", where)

    async def _drain(self) -> None:
        grace = self.config.shutdown_grace_s
        logger.info("%s: stopping %d workers (grace %gs)", self._why, self.count, grace)
        for worker in self._workers:
            worker.terminate()
        with anyio.move_on_after(grace + LAST_WORDS_S + STOP_MARGIN_S):
            for worker in self._workers:
                await worker.done.wait()
        for worker in self._workers:
            if not worker.done.is_set():
                logger.error("worker %d did not stop within the grace: killed", worker.index)
                worker.kill()
                await worker.done.wait()
        if self._status == EXIT_STOPPED and not all(w.drained for w in self._workers):
            self._status = EXIT_UNCLEAN_STOP


async def supervise(
    config: ServerConfig, count: int, pipeline: PipelineRecipe, log_level: str, log_format: str
) -> int:
    """Runs ``count`` workers until SIGTERM or SIGINT; returns the exit status."""
    return await Supervisor(config, count, pipeline, log_level, log_format).run()
