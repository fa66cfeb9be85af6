"""What `nexy-stream tail` shows: the feeds folded into a table that redraws in place.

A board follows one server or several (the workers of ``serve --workers N``): counts and
rates are added up; percentiles cannot be, so each source gets its own latency rows, and
each session says which source it is on.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Sequence
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
    source: int = 0  # which of the board's sources
    chunks: int = 0
    buffered: int = 0
    outputs: int = 0
    lost: bool = False  # its stream was lost: it waits for a resume


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
    source: int = 0


def _prepared(ended: apb.Ended) -> str:
    if ended.timings.prepared:
        return "yes"
    return "no" if ended.preparations.started else "-"


class Board:
    """Live sessions, recent ends and the latest aggregates, folded from feed events."""

    def __init__(self, sources: Sequence[str]) -> None:
        self.sources = list(sources)
        self.live: dict[str, LiveRow] = {}
        self.ends: deque[EndRow] = deque(maxlen=RECENT_ENDS)
        self.aggregates: dict[int, apb.Aggregate] = {}  # the latest of each source
        self.skipped = 0

    def apply(self, event: apb.WatchEvent, source: int = 0) -> None:
        self.skipped += event.skipped
        match event.WhichOneof("kind"):
            case "snapshot":
                self._snapshot(event.snapshot, source)
            case "session":
                self._session(event.session, event.time.ToNanoseconds() / 1e9, source)
            case "aggregate":
                self.aggregates[source] = event.aggregate

    def _tag(self, source: int) -> str:
        """`[2]` for the second source, when there are several; nothing otherwise."""
        return f"[{source + 1}]" if len(self.sources) > 1 else ""

    def _snapshot(self, snapshot: apb.Snapshot, source: int) -> None:
        now = time.monotonic()
        for live in snapshot.sessions:
            self.live[live.session_id] = LiveRow(
                live.session_id,
                live.device_id,
                _name(apb.Protocol, live.protocol, "PROTOCOL_"),
                _name(apb.Phase, live.phase, "PHASE_"),
                now - live.age.ToNanoseconds() / 1e9,
                source,
                live.applied_chunks,
                live.buffered_text_bytes,
                live.output_frames,
                live.awaiting_resume,
            )

    def _session(self, event: apb.SessionEvent, wall_time: float, source: int) -> None:
        change = event.WhichOneof("change")
        protocol = _name(apb.Protocol, event.protocol, "PROTOCOL_")
        if change == "opened":
            self.live[event.session_id] = LiveRow(
                event.session_id, event.device_id, protocol, "collecting", time.monotonic(), source
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
        elif change in ("stream_lost", "resumed") and row is not None:
            row.lost = change == "stream_lost"
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
                    source,
                )
            )

    def render(self) -> str:
        sources = "  ".join(f"{self._tag(i)} {s}".strip() for i, s in enumerate(self.sources))
        lines = [f"nexy-stream tail  {sources}  {time.strftime('%H:%M:%S')}"]
        if self.skipped:
            lines[0] += f"  ({self.skipped} events skipped: this terminal reads too slowly)"
        lines += ["", *self._figures(), "", *self._live_table(), "", *self._ends_table()]
        return "\n".join(lines)

    def _figures(self) -> list[str]:
        if not self.aggregates:
            return ["(waiting for the first figures)"]
        latest = [self.aggregates[source] for source in sorted(self.aggregates)]
        live: Counter[str] = Counter()
        protocols: Counter[str] = Counter()
        ended: Counter[str] = Counter()
        for agg in latest:
            for count in agg.live:
                live[_name(apb.Phase, count.phase, "PHASE_")] += count.sessions
                protocols[_name(apb.Protocol, count.protocol, "PROTOCOL_")] += count.sessions
            for outcome in agg.ended:
                ended[_name(apb.Outcome, outcome.outcome, "OUTCOME_")] += outcome.sessions
        by_protocol = ", ".join(f"{name} {n}" for name, n in sorted(protocols.items()))
        interval = max(agg.interval.ToNanoseconds() for agg in latest) / 1e9
        resumed = sum(a.resumed for a in latest)
        window = latest[0].latency_window.ToNanoseconds() / 1e9
        lines = [
            f"live      collecting {live.get('collecting', 0)}  processing "
            f"{live.get('processing', 0)}  buffered {size(sum(a.buffered_bytes for a in latest))}"
            + (f"  ({by_protocol})" if by_protocol else "")
            + self._resumption(latest),
            f"rates     started {sum(a.started_per_second for a in latest):.1f}/s  ended "
            f"{sum(a.ended_per_second for a in latest):.1f}/s  collect frames "
            f"{sum(a.collect_frames_per_second for a in latest):.1f}/s"
            + (f"  resumed {resumed / interval:.1f}/s" if resumed else ""),
            f"ended     {'  '.join(f'{name} {n}' for name, n in ended.items()) or '-'}"
            f"  (last {seconds(interval)})",
            self._preparations(latest, seconds(interval)),
            f"latency   last {window:g}s{'':17}p50       p95       p99   samples",
        ]
        for label, field in (
            ("commit -> first output", "commit_to_first_output"),
            ("commit -> first text", "commit_to_first_text"),
            ("commit -> first audio", "commit_to_first_audio"),
            ("  LLM first token", "llm_first_token"),
            ("  TTS first byte", "tts_first_byte"),
            ("pipeline (committed)", "pipeline"),
            ("prepared: ahead by", "prepared_ahead"),
        ):
            for source, agg in sorted(self.aggregates.items()):
                tagged = f"{label} {self._tag(source)}".strip()
                lines.append(self._latency(tagged, getattr(agg, field)))
        return lines

    @staticmethod
    def _resumption(latest: list[apb.Aggregate]) -> str:
        """Sessions whose stream was lost and that wait for a resume, once there are any."""
        waiting = sum(a.awaiting_resume for a in latest)
        return f"  awaiting resume {waiting}" if waiting else ""

    @staticmethod
    def _preparations(latest: list[apb.Aggregate], interval: str) -> str:
        """Answers prepared during collect, of the sessions that ended in the interval."""
        discarded: Counter[str] = Counter()
        for agg in latest:
            for count in agg.preparations.discarded:
                discarded[_name(apb.Discard, count.reason, "DISCARD_")] += count.preparations
        why = ", ".join(f"{reason} {n}" for reason, n in discarded.items())
        return (
            f"prepared  started {sum(a.preparations.started for a in latest)}  adopted "
            f"{sum(a.preparations.adopted for a in latest)}  discarded "
            f"{discarded.total()}" + (f" ({why})" if why else "") + f"  (last {interval})"
        )

    @staticmethod
    def _latency(label: str, value: apb.Latency) -> str:
        cells = "".join(f"{seconds(_duration(value, p)):>10}" for p in ("p50", "p95", "p99"))
        return f"  {label:<28}{cells}{value.samples:>10}"

    def _live_table(self) -> list[str]:
        rows = sorted(self.live.values(), key=lambda r: r.opened_at)
        now = time.monotonic()
        src = self._column("src")
        lines = [
            f"LIVE SESSIONS ({len(rows)})",
            f"  {src}{'session':<10}{'device':<16}{'proto':<8}{'phase':<12}{'age':>8}"
            f"{'chunks':>8}{'buffered':>11}  stream",
        ]
        for row in rows[:LIVE_ROWS]:
            lines.append(
                f"  {self._column(self._tag(row.source))}{row.session_id[:8]:<10}"
                f"{row.device_id[:15]:<16}{row.protocol:<8}"
                f"{row.phase:<12}{seconds(now - row.opened_at):>8}{row.chunks:>8}"
                f"{size(row.buffered):>11}  {'lost' if row.lost else 'up'}"
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
            f"  {self._column('src')}{'time':<10}{'session':<10}{'device':<14}{'proto':<8}"
            f"{'outcome':<13}{'total':>9}{'text':>9}{'audio':>9}{'llm':>9}{'tts':>9}{'prep':>6}"
            f"{'chunks':>8}{'outputs':>9}",
        ]
        for end in self.ends:
            lines.append(
                f"  {self._column(self._tag(end.source))}"
                f"{time.strftime('%H:%M:%S', time.localtime(end.time)):<10}"
                f"{end.session_id[:8] or '-':<10}{end.device_id[:13] or '-':<14}"
                f"{end.protocol:<8}{end.outcome:<13}{seconds(end.total):>9}"
                f"{seconds(end.first_text):>9}{seconds(end.first_audio):>9}"
                f"{seconds(end.llm_first_token):>9}{seconds(end.tts_first_byte):>9}"
                f"{end.prepared:>6}{end.chunks:>8}{end.outputs:>9}"
            )
        return lines

    def _column(self, text: str) -> str:
        """The source column: there only when the board has several sources."""
        return f"{text:<5}" if len(self.sources) > 1 else ""
