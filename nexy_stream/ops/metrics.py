"""Prometheus metrics of the sessions, and the HTTP endpoint that serves them.

Each server has its own :class:`CollectorRegistry`, so several servers can run in one
process (tests). Live figures are read from the session registry when scraped rather
than counted up and down, so they cannot drift. A worker of ``serve --workers N`` cannot
be asked at scrape time (its supervisor serves /metrics from prometheus_client's
multiprocess files), so it writes the same figures there every second instead.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import NamedTuple
from wsgiref.simple_server import WSGIServer

import anyio
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from nexy_stream.netaddr import host_port
from nexy_stream.ops.lifecycle import Change, ChangeKind
from nexy_stream.ops.live import LIVE_PHASES, LiveSessions
from nexy_stream.server.observer import WireProtocol
from nexy_stream.session import CollectResult, Discard, Outcome, Preparations, Stage, Timings

# From a millisecond to half a minute: an echo answers in about a millisecond, a real
# pipeline (LLM, TTS) in seconds.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
LIVE_REFRESH_S = 1.0  # how often a worker writes its live figures for the supervisor
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


class GaugeSpec(NamedTuple):
    name: str
    help: str
    labels: tuple[str, ...]


LIVE_GAUGES = (
    GaugeSpec(
        "nexy_live_sessions",
        "Sessions open now, by phase (collecting, processing) and wire protocol.",
        ("phase", "protocol"),
    ),
    GaugeSpec(
        "nexy_buffered_bytes",
        "Bytes held in the buffers of the live sessions, by kind (text, screenshot).",
        ("kind",),
    ),
    GaugeSpec(
        "nexy_budget_bytes",
        "Bytes all sessions hold (collect buffers, committed utterances) against "
        "max_buffered_bytes: held, and the limit.",
        ("kind",),
    ),
    GaugeSpec(
        "nexy_streams_awaiting_open",
        "Streams connected whose open frame has not come yet (ended after open_timeout).",
        (),
    ),
    GaugeSpec(
        "nexy_sessions_awaiting_resume",
        "Live sessions whose stream was lost, waiting (resume_ttl) for a resume on a new one.",
        (),
    ),
)
Figures = dict[tuple[str, ...], float]  # label values -> value


def live_figures(live: LiveSessions) -> tuple[Figures, ...]:
    """The figures of :data:`LIVE_GAUGES`, in its order: the live sessions by (phase,
    protocol), the bytes they buffer by kind, the bytes held against the budget and its
    limit, the streams awaiting their open frame, and the sessions awaiting a resume."""
    counts = live.counts()
    text, screenshots = live.buffered_bytes()
    held, limit = live.budget()
    sessions: Figures = {
        (phase.value, protocol.value): counts[phase, protocol]
        for phase in LIVE_PHASES
        for protocol in WireProtocol
    }
    budget: Figures = {("held",): held}
    if limit is not None:
        budget[("limit",)] = limit
    return (
        sessions,
        {("text",): text, ("screenshot",): screenshots},
        budget,
        {(): live.awaiting_open()},
        {(): live.awaiting_resume()},
    )


class LiveCollector(Collector):
    """Live sessions by phase and protocol, bytes buffered and held against the budget,
    streams still awaiting their open frame and sessions awaiting a resume, read at scrape
    time."""

    def __init__(self, live: LiveSessions) -> None:
        self._live = live

    def describe(self) -> Iterator[Metric]:
        for spec in LIVE_GAUGES:
            yield GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)

    def collect(self) -> Iterator[Metric]:
        for spec, figures in zip(LIVE_GAUGES, live_figures(self._live), strict=True):
            family = GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)
            for labels, value in figures.items():
                family.add_metric(labels, value)
            yield family


class LivePublisher:
    """A worker's live figures, written to the multiprocess files every second.

    The gauges are summed over the live workers (``livesum``); the supervisor drops a dead
    worker's figures. Read on a thread of its own, as the metrics endpoint reads them.
    """

    def __init__(self, live: LiveSessions, registry: CollectorRegistry) -> None:
        self._live = live
        self._gauges = [
            Gauge(*spec, multiprocess_mode="livesum", registry=registry) for spec in LIVE_GAUGES
        ]
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nexy-live-gauges", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def publish(self) -> None:
        for gauge, figures in zip(self._gauges, live_figures(self._live), strict=True):
            for labels, value in figures.items():
                (gauge.labels(*labels) if labels else gauge).set(value)

    def _run(self) -> None:
        while True:
            self.publish()
            if self._stopped.wait(LIVE_REFRESH_S):
                return

    async def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            await anyio.to_thread.run_sync(self._thread.join)


class SessionMetrics:
    """A sink for lifecycle changes that keeps the Prometheus metrics.

    ``shared``: a worker's, written to prometheus_client's multiprocess files for its
    supervisor to serve (``PROMETHEUS_MULTIPROC_DIR`` set before prometheus_client loads).
    """

    def __init__(self, live: LiveSessions, shared: bool = False) -> None:
        if shared and MULTIPROC_DIR not in os.environ:
            raise RuntimeError(f"shared metrics need {MULTIPROC_DIR} (set by the supervisor)")
        self.registry = CollectorRegistry()
        self._started = Counter(
            "nexy_sessions_started",
            "Sessions whose open frame was accepted, by wire protocol.",
            ["protocol"],
            registry=self.registry,
        )
        self._ended = Counter(
            "nexy_sessions_ended",
            "Sessions ended, by outcome and wire protocol (refused: also before opening).",
            ["protocol", "outcome"],
            registry=self.registry,
        )
        self._collect = Counter(
            "nexy_collect_frames",
            "Collect frames handled, by result (applied, stale, duplicate_screenshot, rejected).",
            ["protocol", "result"],
            registry=self.registry,
        )
        self._lost = Counter(
            "nexy_streams_lost",
            "Streams lost (the connection dropped) while their session went on, waiting for "
            "a resume.",
            registry=self.registry,
        )
        self._resumed = Counter(
            "nexy_sessions_resumed",
            "Sessions resumed on a new stream after theirs was lost.",
            registry=self.registry,
        )
        self._first_output = Histogram(
            "nexy_commit_to_first_output_seconds",
            "Seconds from an accepted commit to the first output frame sent.",
            ["protocol"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self._first_text = Histogram(
            "nexy_commit_to_first_text_seconds",
            "Seconds from an accepted commit to the first output frame carrying text.",
            ["protocol"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self._first_audio = Histogram(
            "nexy_commit_to_first_audio_seconds",
            "Seconds from an accepted commit to the first output frame carrying audio.",
            ["protocol"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self._stages = Histogram(
            "nexy_pipeline_stage_seconds",
            "Seconds a stage of a pipeline's run took, as the pipeline reported it "
            "(llm_first_token: LLM time to first token; tts_first_byte: speech time to "
            "first byte of the first sentence).",
            ["stage"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self._prepared = Counter(
            "nexy_preparations_started",
            "Answers begun during collect (serve --speculate), counted when their session ends.",
            registry=self.registry,
        )
        self._adopted = Counter(
            "nexy_preparations_adopted",
            "Preparations the commit adopted: the answer came from them.",
            registry=self.registry,
        )
        self._discarded = Counter(
            "nexy_preparations_discarded",
            "Preparations thrown away, by reason (revised, text_differs, screenshot_differs, "
            "failed, session_ended).",
            ["reason"],
            registry=self.registry,
        )
        self._saved = Histogram(
            "nexy_preparation_saved_seconds",
            "How much sooner a prepared answer's first output came: from the preparation's "
            "start to the commit, or to its first output if that came sooner.",
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self._pipeline = Histogram(
            "nexy_pipeline_duration_seconds",
            "Seconds from an accepted commit to the session's end, by outcome.",
            ["protocol", "outcome"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self._publisher = LivePublisher(live, self.registry) if shared else None
        if self._publisher is None:
            self.registry.register(LiveCollector(live))
        for stage in Stage:  # every series exists from the start, at zero
            self._stages.labels(stage.value)
        for reason in Discard:
            self._discarded.labels(reason.value)
        for protocol in WireProtocol:
            self._started.labels(protocol.value)
            for first in (self._first_output, self._first_text, self._first_audio):
                first.labels(protocol.value)
            for outcome in Outcome:
                self._ended.labels(protocol.value, outcome.value)
            for result in CollectResult:
                self._collect.labels(protocol.value, result.value)

    def start(self) -> None:
        if self._publisher is not None:
            self._publisher.start()

    async def stop(self) -> None:
        if self._publisher is not None:
            await self._publisher.stop()

    def record(self, change: Change) -> None:
        protocol = change.protocol.value
        match change.kind:
            case ChangeKind.OPENED:
                self._started.labels(protocol).inc()
            case ChangeKind.COLLECTED if change.collect is not None:
                self._collect.labels(protocol, change.collect.value).inc()
            case ChangeKind.STREAM_LOST:
                self._lost.inc()
            case ChangeKind.RESUMED:
                self._resumed.inc()
            case ChangeKind.FIRST_OUTPUT if change.timings is not None:
                latency = change.timings.commit_to_first_output
                if latency is not None:
                    self._first_output.labels(protocol).observe(latency)
            case ChangeKind.ENDED if change.outcome is not None:
                outcome = change.outcome.value
                self._ended.labels(protocol, outcome).inc()
                if change.timings is not None:
                    self._ended_timings(change.timings, protocol, outcome)
                self._ended_preparations(change.preparations)

    def _ended_preparations(self, preparations: Preparations) -> None:
        if not preparations.started:
            return
        self._prepared.inc(preparations.started)
        if preparations.adopted:
            self._adopted.inc()
        if preparations.ahead_s is not None:
            self._saved.observe(preparations.ahead_s)
        for reason, count in preparations.discarded.items():
            self._discarded.labels(reason.value).inc(count)

    def _ended_timings(self, timings: Timings, protocol: str, outcome: str) -> None:
        """The figures known once a session has ended: how long its pipeline ran, when its
        first text and audio came, how long its pipeline's stages took."""
        if timings.pipeline is not None:
            self._pipeline.labels(protocol, outcome).observe(timings.pipeline)
        if timings.commit_to_first_text is not None:
            self._first_text.labels(protocol).observe(timings.commit_to_first_text)
        if timings.commit_to_first_audio is not None:
            self._first_audio.labels(protocol).observe(timings.commit_to_first_audio)
        for stage in Stage:
            seconds = timings.stage(stage)
            if seconds is not None:
                self._stages.labels(stage.value).observe(seconds)


class MetricsEndpoint:
    """``/metrics`` over HTTP on a thread of its own (prometheus_client's server)."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @classmethod
    def start(cls, registry: CollectorRegistry, host: str, port: int) -> MetricsEndpoint:
        try:
            server, thread = start_http_server(port, addr=host, registry=registry)
        except OSError as exc:
            raise OSError(f"cannot listen on {host_port(host, port)} (metrics): {exc}") from exc
        return cls(server, thread)

    @property
    def port(self) -> int:
        return self._server.server_port

    async def stop(self) -> None:
        def shut() -> None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()

        await anyio.to_thread.run_sync(shut)
