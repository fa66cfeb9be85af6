"""Runs many utterances concurrently against one server, bounded in count and in time."""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import anyio

from nexy_stream._proto.nexy.stream.v1 import session_pb2_grpc as rpc
from nexy_stream.client.channel import CallMetadata, ChannelTls, open_channel
from nexy_stream.loadgen.driver import ECHO, SessionRecord, Unreachable, drive
from nexy_stream.loadgen.stats import latency_ms
from nexy_stream.loadgen.utterances import REALISTIC, Profile, build_utterance

MAX_KEPT = 20  # violations and failures listed in the report
INTERRUPTED = "interrupted"  # LoadReport.stopped when told to stop


@dataclass(frozen=True, slots=True)
class LoadPlan:
    target: str
    sessions: int
    concurrency: int
    duration_s: float
    pace: float = 1.0  # scales the pauses between interim results; 0: as fast as possible
    seed: int = 0
    profile: Profile = REALISTIC
    drain_s: float = 10.0  # how long sessions still running at the deadline may finish
    tls: ChannelTls | None = None  # None: plaintext
    metadata: CallMetadata = ()  # sent with every session (a bearer token)
    device_id: str = "load-device"  # the device every session names
    # One of several client processes (--processes): this one plays sessions part,
    # part + parts, ..., so the same seed plays the same utterances however many there are.
    part: int = 0
    parts: int = 1


@dataclass
class LoadTally:
    """Running totals, updated as sessions finish (the progress line reads them)."""

    started: int = 0
    finished: int = 0
    frames: int = 0
    endings: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    latencies_s: list[float] = field(default_factory=list)
    pipelines: Counter[str] = field(default_factory=Counter)  # as the server named them
    broken_sessions: int = 0
    failed_sessions: int = 0  # ended by the server with an error status (not a broken promise)
    told_going_away: int = 0  # sessions that got the server's going_away
    unverifiable: int = 0  # a cancel after commit raced the end; see SessionRecord
    violations: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def absorb(self, other: LoadTally) -> None:
        """Adds another process's tally to this one."""
        self.started += other.started
        self.finished += other.finished
        self.frames += other.frames
        self.endings.update(other.endings)
        self.statuses.update(other.statuses)
        self.latencies_s.extend(other.latencies_s)
        self.pipelines.update(other.pipelines)
        self.broken_sessions += other.broken_sessions
        self.failed_sessions += other.failed_sessions
        self.told_going_away += other.told_going_away
        self.unverifiable += other.unverifiable
        _keep(self.violations, other.violations)
        _keep(self.failures, other.failures)

    def add(self, record: SessionRecord) -> None:
        self.finished += 1
        self.frames += record.collects_sent
        self.endings[record.ending.value] += 1
        status = "DISCONNECTED_BY_CLIENT" if record.status is None else record.status.name
        self.statuses[status] += 1
        self.unverifiable += record.cancel_raced_end
        self.told_going_away += record.going_away
        if record.pipeline:
            self.pipelines[record.pipeline] += 1
        if record.commit_to_first_output_s is not None:
            self.latencies_s.append(record.commit_to_first_output_s)
        if record.violations:
            self.broken_sessions += 1
            _keep(self.violations, record.violations)
        if record.failure is not None:
            self.failed_sessions += 1
            _keep(self.failures, [f"session {record.session_id}: {record.failure}"])


def _keep(kept: list[str], more: list[str]) -> None:
    kept.extend(more[: max(MAX_KEPT - len(kept), 0)])


@dataclass(frozen=True, slots=True)
class LoadReport:
    elapsed_s: float
    tally: LoadTally
    unfinished: int  # still running when the run ended (drain period over, or stopped); cancelled
    stopped: str | None = None  # why the run ended early: "interrupted", or the server was lost

    @property
    def invariants_held(self) -> bool:
        cut_short = self.unfinished and self.stopped is None  # by the drain period
        return self.tally.broken_sessions == 0 and not cut_short

    @property
    def passed(self) -> bool:
        """Every session ran, kept every promise and none failed."""
        return self.invariants_held and self.tally.failed_sessions == 0 and self.stopped is None

    def as_dict(self) -> dict[str, Any]:
        tally, elapsed = self.tally, max(self.elapsed_s, 1e-9)
        return {
            "pipeline": ", ".join(sorted(tally.pipelines)) or None,
            "elapsed_s": round(self.elapsed_s, 3),
            "stopped": self.stopped,
            "sessions_started": tally.started,
            "sessions_finished": tally.finished,
            "sessions_unfinished": self.unfinished,
            "sessions_failed": tally.failed_sessions,
            "sessions_told_going_away": tally.told_going_away,
            "sessions_per_s": round(tally.finished / elapsed, 2),
            "collect_frames": tally.frames,
            "frames_per_s": round(tally.frames / elapsed, 2),
            "commit_to_first_output_ms": latency_ms(tally.latencies_s),
            "endings": dict(tally.endings),
            "status_codes": dict(tally.statuses),
            "invariants_held": self.invariants_held,
            "exact_echo_checked": tally.pipelines.get(ECHO, 0),
            "sessions_breaking_invariants": tally.broken_sessions,
            "sessions_unverifiable": tally.unverifiable,
            "violations": tally.violations,
            "failures": tally.failures,
            "passed": self.passed,
        }


async def run_load(
    plan: LoadPlan,
    progress: Callable[[LoadTally, float], None] | None = None,
    stop: anyio.Event | None = None,
) -> LoadReport:
    """Starts up to ``plan.sessions`` sessions, ``plan.concurrency`` at a time, until
    ``plan.duration_s`` has passed; lets running ones finish for ``plan.drain_s``.

    Setting ``stop`` ends the run at once with a partial report (``stopped`` is
    :data:`INTERRUPTED`).
    Raises :class:`Unreachable` when no session could open because there is no server; a
    server lost midway (it stopped taking sessions) starts no more sessions, lets those
    under way finish, and ends the run with a partial report saying so. A server is lost
    when it answers an open with UNAVAILABLE (it is stopping), or when as many opens as
    sessions run at once (3 at least) fail in a row for want of it: behind a load balancer,
    the opens a dying instance drops are failed sessions once a later one opens, and the
    run goes on with the others.
    """
    tally = LoadTally()
    began = time.perf_counter()
    deadline = anyio.current_time() + plan.duration_s
    running: set[str] = set()
    lost: list[Unreachable] = []
    # Opens that found no server, by attempt: failed sessions once a later one opens.
    refused: dict[int, str] = {}
    lost_after = max(3, plan.concurrency)

    async def worker(stub: rpc.SessionServiceStub) -> None:
        while tally.started < plan.sessions and anyio.current_time() < deadline and not lost:
            attempt = tally.started
            index = plan.part + plan.parts * attempt
            tally.started += 1
            # One Random per session: a session's utterance depends on the seed and its
            # index only, whatever the concurrency.
            utterance = build_utterance(random.Random(f"{plan.seed}:{index}"), plan.profile)
            utterance = replace(utterance, device_id=plan.device_id)
            session_id = str(uuid.uuid4())
            running.add(session_id)
            try:
                record = await drive(stub, session_id, utterance, plan.pace, plan.metadata)
            except Unreachable as error:  # it never opened: not an unfinished session
                running.discard(session_id)
                refused[attempt] = f"session {session_id} did not open: {error}"
                if error.in_band or len(refused) >= lost_after:
                    # No new sessions; those under way finish (after going_away, they may).
                    lost.append(error)
                continue
            running.discard(session_id)  # still here if cancelled: unfinished
            tally.add(record)
            if not lost:  # the server took a later session: those refusals were failures
                failed = [refused.pop(early) for early in sorted(refused) if early < attempt]
                tally.failed_sessions += len(failed)
                _keep(tally.failures, failed)

    async def report_progress(show: Callable[[LoadTally, float], None]) -> None:
        while True:
            await anyio.sleep(0.5)
            show(tally, time.perf_counter() - began)

    async def stop_when_told(event: anyio.Event, cancel: anyio.CancelScope) -> None:
        await event.wait()
        cancel.cancel()

    credentials = None if plan.tls is None else plan.tls.credentials()
    async with open_channel(plan.target, credentials) as channel:
        stub = rpc.SessionServiceStub(channel)  # type: ignore[no-untyped-call]  # generated
        async with anyio.create_task_group() as outer:
            if progress is not None:
                outer.start_soon(report_progress, progress)
            with anyio.move_on_after(plan.duration_s + plan.drain_s) as work:
                if stop is not None:
                    outer.start_soon(stop_when_told, stop, work)
                async with anyio.create_task_group() as workers:
                    for _ in range(min(plan.concurrency, plan.sessions)):
                        workers.start_soon(worker, stub)
            outer.cancel_scope.cancel()
    if lost and not tally.finished:
        raise lost[0]  # not one session: there is no server to report on
    stopped = None
    if lost:
        stopped = f"lost the server: {lost[0]}"
    elif stop is not None and stop.is_set():
        stopped = INTERRUPTED
    return LoadReport(time.perf_counter() - began, tally, len(running), stopped)
