"""Translation of lifecycle changes, live sessions and figures into nexy.admin.v1."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from nexy_stream._proto.nexy.admin.v1 import admin_pb2 as apb
from nexy_stream._proto.nexy.stream.v1 import session_pb2 as pb
from nexy_stream.ops.lifecycle import Change, ChangeKind
from nexy_stream.ops.stats import Totals, percentile
from nexy_stream.server import codec as v1
from nexy_stream.server.observer import WireProtocol
from nexy_stream.session import (
    ClientInfo,
    CollectResult,
    Discard,
    Outcome,
    Phase,
    SessionActor,
)

PROTOCOLS = {
    WireProtocol.STREAM: apb.PROTOCOL_STREAM,
    WireProtocol.LEGACY: apb.PROTOCOL_LEGACY,
}
PHASES = {Phase.COLLECTING: apb.PHASE_COLLECTING, Phase.PROCESSING: apb.PHASE_PROCESSING}
# Derived from the names (the enums mirror each other) rather than listed twice.
OUTCOMES: dict[Outcome, apb.Outcome] = {o: getattr(apb, f"OUTCOME_{o.name}") for o in Outcome}
DISCARDS: dict[Discard, apb.Discard] = {d: getattr(apb, f"DISCARD_{d.name}") for d in Discard}
RESULTS: dict[CollectResult, pb.CollectResult] = {
    r: getattr(pb, f"COLLECT_RESULT_{r.name}") for r in CollectResult
}
SNAPSHOT_LIMIT = 1000


def preparations(started: int, adopted: int, discarded: Mapping[Discard, int]) -> apb.Preparations:
    return apb.Preparations(
        started=started,
        adopted=adopted,
        discarded=[
            apb.DiscardCount(reason=DISCARDS[reason], preparations=discarded[reason])
            for reason in Discard
            if discarded.get(reason)
        ],
    )


def client(value: ClientInfo) -> pb.ClientInfo:
    return pb.ClientInfo(name=value.name, version=value.version, platform=value.platform)


def session_event(change: Change) -> apb.SessionEvent:
    event = apb.SessionEvent(
        session_id=change.session_id,
        device_id=change.device_id,
        protocol=PROTOCOLS[change.protocol],
    )
    match change.kind:
        case ChangeKind.OPENED:
            event.opened.client.CopyFrom(client(change.client or ClientInfo()))
        case ChangeKind.COLLECTED:
            assert change.collect is not None
            collected = event.collected
            collected.chunk_seq = max(change.chunk_seq, 0)
            collected.result = RESULTS[change.collect]
            collected.applied_chunks = change.applied_chunks
            collected.buffered_text_bytes = change.buffered_text_bytes
            if change.error is not None:
                collected.error.CopyFrom(v1.error(change.error, fatal=False))
        case ChangeKind.COMMITTED:
            assert change.timings is not None
            event.committed.applied_chunks = change.applied_chunks
            event.committed.has_screenshot = change.has_screenshot
            event.committed.collect.CopyFrom(v1.duration(change.timings.collect))
            event.committed.prepared = change.prepared
        case ChangeKind.STREAM_LOST:
            event.stream_lost.resume_ttl.CopyFrom(v1.duration(change.resume_ttl_s))
        case ChangeKind.RESUMED:
            event.resumed.highest_applied_seq = change.highest_applied_seq
            event.resumed.committed = change.committed
        case ChangeKind.FIRST_OUTPUT:
            assert change.timings is not None
            latency = change.timings.commit_to_first_output or 0.0
            event.first_output.commit_to_first_output.CopyFrom(v1.duration(latency))
        case ChangeKind.ENDED:
            assert change.timings is not None and change.outcome is not None
            ended = event.ended
            ended.outcome = OUTCOMES[change.outcome]
            ended.timings.CopyFrom(v1.timings(change.timings))
            ended.applied_chunks = change.applied_chunks
            ended.output_frames = change.output_frames
            if change.error is not None:
                ended.error.CopyFrom(v1.error(change.error, fatal=True))
            prepared = change.preparations
            if prepared.started:
                ended.preparations.CopyFrom(
                    preparations(prepared.started, int(prepared.adopted), prepared.discarded)
                )
    return event


def live_session(actor: SessionActor, protocol: WireProtocol, now: float) -> apb.LiveSession:
    return apb.LiveSession(
        session_id=actor.session_id,
        device_id=actor.device_id,
        protocol=PROTOCOLS[protocol],
        phase=PHASES[actor.phase],
        age=v1.duration(actor.age(now)),
        applied_chunks=actor.applied_chunks,
        buffered_text_bytes=actor.text_bytes,
        output_frames=actor.output_frames,
        client=client(actor.client),
        awaiting_resume=actor.detached,
    )


def snapshot(sessions: Iterable[tuple[SessionActor, WireProtocol]], now: float) -> apb.Snapshot:
    ordered = sorted(sessions, key=lambda pair: -pair[0].age(now))
    return apb.Snapshot(
        sessions=[live_session(a, p, now) for a, p in ordered[:SNAPSHOT_LIMIT]],
        matching=len(ordered),
    )


def latency(ordered: Sequence[float]) -> apb.Latency:
    message = apb.Latency(samples=len(ordered))
    for name, fraction in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        value = percentile(ordered, fraction)
        if value is not None:
            getattr(message, name).CopyFrom(v1.duration(value))
    return message


def aggregate(
    previous: Totals,
    current: Totals,
    live: Counter[tuple[Phase, WireProtocol]],
    awaiting_resume: int,
    buffered_bytes: int,
    latencies: Mapping[str, Sequence[float]],
    latency_window_s: float,
) -> apb.Aggregate:
    """``latencies``: sorted seconds of each figure (see ``stats.LATENCIES``), by name."""
    elapsed = max(current.at - previous.at, 1e-9)
    ended = current.ended - previous.ended
    message = apb.Aggregate(
        interval=v1.duration(elapsed),
        live=[
            apb.LiveCount(phase=PHASES[phase], protocol=PROTOCOLS[protocol], sessions=count)
            for (phase, protocol), count in sorted(live.items(), key=lambda i: str(i[0]))
        ],
        buffered_bytes=buffered_bytes,
        awaiting_resume=awaiting_resume,
        resumed=current.resumed - previous.resumed,
        started_per_second=(current.started - previous.started) / elapsed,
        ended_per_second=sum(ended.values()) / elapsed,
        collect_frames_per_second=(current.collect_frames - previous.collect_frames) / elapsed,
        ended=[
            apb.OutcomeCount(outcome=OUTCOMES[outcome], sessions=ended[outcome])
            for outcome in Outcome
            if ended[outcome]
        ],
        latency_window=v1.duration(latency_window_s),
        preparations=preparations(
            current.prepared - previous.prepared,
            current.adopted - previous.adopted,
            current.discarded - previous.discarded,
        ),
    )
    for name, ordered in latencies.items():
        getattr(message, name).CopyFrom(latency(ordered))
    return message
