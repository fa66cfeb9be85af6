"""What `nexy-stream tail` shows: the feed folded into a table that redraws in place."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass

from google.protobuf.duration_pb2 import Duration
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.message import Message

from nexy_stream._proto.nexy.admin.v1 import admin_pb2 as apb

RECENT_ENDS = 8
LIVE_ROWS = 12


def _name(enum: EnumTypeWrapper, number: int, prefix: str) -> str:
    """``PHASE_COLLECTING`` -> ``collecting``."""
    return enum.Name(number).removeprefix(prefix).lower()


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.1f}ms" if value < 1 else f"{value:.2f}s"


def _duration(message: Message, field: str) -> float | None:
    if not message.HasField(field):
        return None
    value: Duration = getattr(message, field)
    return value.ToNanoseconds() / 1e9


def size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count / 1024 / 1024:.1f} MiB"


@dataclass
class LiveRow:
    session_id: str
    device_id: str
    protocol: str
    phase: str
    opened_at: float  # monotonic seconds of this process
    chunks: int = 0
    buffered: int = 0
    outputs: int = 0


@dataclass(frozen=True)
class EndRow:
    time: float  # wall clock
    session_id: str
    device_id: str
    protocol: str
    outcome: str
    total: float | None
    first_text: float | None
    first_audio: float | None
    llm_first_token: float | None
    tts_first_byte: float | None
    prepared: str  # yes (the answer was prepared), no (preparations discarded), - (none)
    chunks: int
    outputs: int


def _prepared(ended: apb.Ended) -> str:
    if ended.timings.prepared:
        return "yes"
    return "no" if ended.preparations.started else "-"


class Board:
    """Live sessions, recent ends and the latest aggregate, folded from feed events."""

    def __init__(self) -> None:
        self.live: dict[str, LiveRow] = {}
        self.ends: deque[EndRow] = deque(maxlen=RECENT_ENDS)
        self.aggregate: apb.Aggregate | None = None
        self.skipped = 0

    def apply(self, event: apb.WatchEvent) -> None:
        self.skipped += event.skipped
        match event.WhichOneof("kind"):
            case "snapshot":
                self._snapshot(event.snapshot)
            case "session":
                self._session(event.session, event.time.ToNanoseconds() / 1e9)
            case "aggregate":
                self.aggregate = event.aggregate

    def _snapshot(self, snapshot: apb.Snapshot) -> None:
        now = time.monotonic()
        for live in snapshot.sessions:
            self.live[live.session_id] = LiveRow(
                live.session_id,
                live.device_id,
                _name(apb.Protocol, live.protocol, "PROTOCOL_"),
                _name(apb.Phase, live.phase, "PHASE_"),
                now - live.age.ToNanoseconds() / 1e9,
                live.applied_chunks,
                live.buffered_text_bytes,
                live.output_frames,
            )

    def _session(self, event: apb.SessionEvent, wall_time: float) -> None:
        change = event.WhichOneof("change")
        protocol = _name(apb.Protocol, event.protocol, "PROTOCOL_")
        if change == "opened":
            self.live[event.session_id] = LiveRow(
                event.session_id, event.device_id, protocol, "collecting", time.monotonic()
            )
        row = self.live.get(event.session_id)
        if change == "collected" and row is not None:
            row.chunks, row.buffered = (
                event.collected.applied_chunks,
                event.collected.buffered_text_bytes,
            )
        elif change == "committed" and row is not None:
            row.phase, row.buffered = "processing", 0
        elif change == "first_output" and row is not None:
            row.outputs = max(row.outputs, 1)
        elif change == "ended":
            self.live.pop(event.session_id, None)
            ended, timings = event.ended, event.ended.timings
            self.ends.appendleft(
                EndRow(
                    wall_time,
                    event.session_id,
                    event.device_id,
                    protocol,
                    _name(apb.Outcome, ended.outcome, "OUTCOME_"),
                    _duration(timings, "total"),
                    _duration(timings, "commit_to_first_text"),
                    _duration(timings, "commit_to_first_audio"),
                    _duration(timings, "llm_first_token"),
                    _duration(timings, "tts_first_byte"),
                    _prepared(ended),
                    ended.applied_chunks,
                    ended.output_frames,
                )
            )

    def render(self, target: str) -> str:
        lines = [f"nexy-stream tail  {target}  {time.strftime('%H:%M:%S')}"]
        if self.skipped:
            lines[0] += f"  ({self.skipped} events skipped: this terminal reads too slowly)"
        lines += ["", *self._figures(), "", *self._live_table(), "", *self._ends_table()]
        return "\n".join(lines)

    def _figures(self) -> list[str]:
        agg = self.aggregate
        if agg is None:
            return ["(waiting for the first figures)"]
        live: Counter[str] = Counter()
        protocols: Counter[str] = Counter()
        for count in agg.live:
            live[_name(apb.Phase, count.phase, "PHASE_")] += count.sessions
            protocols[_name(apb.Protocol, count.protocol, "PROTOCOL_")] += count.sessions
        by_protocol = ", ".join(f"{name} {n}" for name, n in sorted(protocols.items()))
        ended = "  ".join(
            f"{_name(apb.Outcome, c.outcome, 'OUTCOME_')} {c.sessions}" for c in agg.ended
        )
        window = agg.latency_window.ToNanoseconds() / 1e9
        interval = seconds(agg.interval.ToNanoseconds() / 1e9)
        return [
            f"live      collecting {live.get('collecting', 0)}  processing "
            f"{live.get('processing', 0)}  buffered {size(agg.buffered_bytes)}"
            + (f"  ({by_protocol})" if by_protocol else ""),
            f"rates     started {agg.started_per_second:.1f}/s  ended "
            f"{agg.ended_per_second:.1f}/s  collect frames {agg.collect_frames_per_second:.1f}/s",
            f"ended     {ended or '-'}  (last {interval})",
            self._preparations(agg.preparations, interval),
            f"latency   last {window:g}s{'':17}p50       p95       p99   samples",
            self._latency("commit -> first output", agg.commit_to_first_output),
            self._latency("commit -> first text", agg.commit_to_first_text),
            self._latency("commit -> first audio", agg.commit_to_first_audio),
            self._latency("  LLM first token", agg.llm_first_token),
            self._latency("  TTS first byte", agg.tts_first_byte),
            self._latency("pipeline (committed)", agg.pipeline),
            self._latency("prepared answers: ahead by", agg.prepared_ahead),
        ]

    @staticmethod
    def _preparations(value: apb.Preparations, interval: str) -> str:
        """Answers prepared during collect, of the sessions that ended in the interval."""
        discarded = sum(count.preparations for count in value.discarded)
        why = ", ".join(
            f"{_name(apb.Discard, count.reason, 'DISCARD_')} {count.preparations}"
            for count in value.discarded
        )
        return (
            f"prepared  started {value.started}  adopted {value.adopted}  discarded "
            f"{discarded}" + (f" ({why})" if why else "") + f"  (last {interval})"
        )

    @staticmethod
    def _latency(label: str, value: apb.Latency) -> str:
        cells = "".join(f"{seconds(_duration(value, p)):>10}" for p in ("p50", "p95", "p99"))
        return f"  {label:<28}{cells}{value.samples:>10}"

    def _live_table(self) -> list[str]:
        rows = sorted(self.live.values(), key=lambda r: r.opened_at)
        now = time.monotonic()
        lines = [
            f"LIVE SESSIONS ({len(rows)})",
            f"  {'session':<10}{'device':<16}{'proto':<8}{'phase':<12}{'age':>8}"
            f"{'chunks':>8}{'buffered':>11}",
        ]
        for row in rows[:LIVE_ROWS]:
            lines.append(
                f"  {row.session_id[:8]:<10}{row.device_id[:15]:<16}{row.protocol:<8}"
                f"{row.phase:<12}{seconds(now - row.opened_at):>8}{row.chunks:>8}"
                f"{size(row.buffered):>11}"
            )
        if len(rows) > LIVE_ROWS:
            lines.append(f"  ... and {len(rows) - LIVE_ROWS} more")
        return lines

    def _ends_table(self) -> list[str]:
        """Each end with where its answer's time went: commit -> first text and first
        audio, and the pipeline's own stages (LLM time to first token, speech time to first
        byte)."""
        lines = [
            "RECENT ENDS",
            f"  {'time':<10}{'session':<10}{'device':<14}{'proto':<8}{'outcome':<13}"
            f"{'total':>9}{'text':>9}{'audio':>9}{'llm':>9}{'tts':>9}{'prep':>6}{'chunks':>8}"
            f"{'outputs':>9}",
        ]
        for end in self.ends:
            lines.append(
                f"  {time.strftime('%H:%M:%S', time.localtime(end.time)):<10}"
                f"{end.session_id[:8] or '-':<10}{end.device_id[:13] or '-':<14}"
                f"{end.protocol:<8}{end.outcome:<13}{seconds(end.total):>9}"
                f"{seconds(end.first_text):>9}{seconds(end.first_audio):>9}"
                f"{seconds(end.llm_first_token):>9}{seconds(end.tts_first_byte):>9}"
                f"{end.prepared:>6}{end.chunks:>8}{end.outputs:>9}"
            )
        return lines
