"""Runs many utterances concurrently against one server, bounded in count and in time."""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from nexy_stream._proto.nexy.stream.v1 import session_pb2_grpc as rpc
from nexy_stream.client.channel import ChannelTls, open_channel
from nexy_stream.loadgen.driver import SessionRecord, drive
from nexy_stream.loadgen.stats import latency_ms
from nexy_stream.loadgen.utterances import REALISTIC, Profile, build_utterance

MAX_VIOLATIONS_KEPT = 20


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
    broken_sessions: int = 0
    unverifiable: int = 0  # a cancel after commit raced the end; see SessionRecord
    violations: list[str] = field(default_factory=list)

    def absorb(self, other: LoadTally) -> None:
        """Adds another process's tally to this one."""
        self.started += other.started
        self.finished += other.finished
        self.frames += other.frames
        self.endings.update(other.endings)
        self.statuses.update(other.statuses)
        self.latencies_s.extend(other.latencies_s)
        self.broken_sessions += other.broken_sessions
        self.unverifiable += other.unverifiable
        self._keep(other.violations)

    def add(self, record: SessionRecord) -> None:
        self.finished += 1
        self.frames += record.collects_sent
        self.endings[record.ending.value] += 1
        status = "DISCONNECTED_BY_CLIENT" if record.status is None else record.status.name
        self.statuses[status] += 1
        self.unverifiable += record.cancel_raced_end
        if record.commit_to_first_output_s is not None:
            self.latencies_s.append(record.commit_to_first_output_s)
        if record.violations:
            self.broken_sessions += 1
            self._keep(record.violations)

    def _keep(self, violations: list[str]) -> None:
        room = MAX_VIOLATIONS_KEPT - len(self.violations)
        self.violations.extend(violations[: max(room, 0)])


@dataclass(frozen=True, slots=True)
class LoadReport:
    elapsed_s: float
    tally: LoadTally
    unfinished: int  # still running when the drain period ran out; cancelled

    @property
    def invariants_held(self) -> bool:
        return self.tally.broken_sessions == 0 and self.unfinished == 0

    def as_dict(self) -> dict[str, Any]:
        tally, elapsed = self.tally, max(self.elapsed_s, 1e-9)
        return {
            "elapsed_s": round(self.elapsed_s, 3),
            "sessions_started": tally.started,
            "sessions_finished": tally.finished,
            "sessions_unfinished": self.unfinished,
            "sessions_per_s": round(tally.finished / elapsed, 2),
            "collect_frames": tally.frames,
            "frames_per_s": round(tally.frames / elapsed, 2),
            "commit_to_first_output_ms": latency_ms(tally.latencies_s),
            "endings": dict(tally.endings),
            "status_codes": dict(tally.statuses),
            "invariants_held": self.invariants_held,
            "sessions_breaking_invariants": tally.broken_sessions,
            "sessions_unverifiable": tally.unverifiable,
            "violations": tally.violations,
        }


async def run_load(
    plan: LoadPlan, progress: Callable[[LoadTally, float], None] | None = None
) -> LoadReport:
    """Starts up to ``plan.sessions`` sessions, ``plan.concurrency`` at a time, until
    ``plan.duration_s`` has passed; lets running ones finish for ``plan.drain_s``."""
    tally = LoadTally()
    began = time.perf_counter()
    deadline = anyio.current_time() + plan.duration_s
    running: set[str] = set()

    async def worker(stub: rpc.SessionServiceStub) -> None:
        while tally.started < plan.sessions and anyio.current_time() < deadline:
            index = plan.part + plan.parts * tally.started
            tally.started += 1
            # One Random per session: a session's utterance depends on the seed and its
            # index only, whatever the concurrency.
            utterance = build_utterance(random.Random(f"{plan.seed}:{index}"), plan.profile)
            session_id = str(uuid.uuid4())
            running.add(session_id)
            tally.add(await drive(stub, session_id, utterance, plan.pace))
            running.discard(session_id)

    async def report_progress(show: Callable[[LoadTally, float], None]) -> None:
        while True:
            await anyio.sleep(0.5)
            show(tally, time.perf_counter() - began)

    credentials = None if plan.tls is None else plan.tls.credentials()
    async with open_channel(plan.target, credentials) as channel:
        stub = rpc.SessionServiceStub(channel)  # type: ignore[no-untyped-call]  # generated
        async with anyio.create_task_group() as outer:
            if progress is not None:
                outer.start_soon(report_progress, progress)
            with anyio.move_on_after(plan.duration_s + plan.drain_s):
                async with anyio.create_task_group() as workers:
                    for _ in range(min(plan.concurrency, plan.sessions)):
                        workers.start_soon(worker, stub)
            outer.cancel_scope.cancel()
    return LoadReport(time.perf_counter() - began, tally, unfinished=len(running))
