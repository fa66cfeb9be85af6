import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from nexy_stream._proto.nexy.stream.v1 import session_pb2 as _session_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Protocol(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROTOCOL_UNSPECIFIED: _ClassVar[Protocol]
    PROTOCOL_STREAM: _ClassVar[Protocol]
    PROTOCOL_LEGACY: _ClassVar[Protocol]

class Phase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PHASE_UNSPECIFIED: _ClassVar[Phase]
    PHASE_COLLECTING: _ClassVar[Phase]
    PHASE_PROCESSING: _ClassVar[Phase]

class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTCOME_UNSPECIFIED: _ClassVar[Outcome]
    OUTCOME_COMMITTED: _ClassVar[Outcome]
    OUTCOME_CANCELLED: _ClassVar[Outcome]
    OUTCOME_DISCONNECTED: _ClassVar[Outcome]
    OUTCOME_TIMED_OUT: _ClassVar[Outcome]
    OUTCOME_REFUSED: _ClassVar[Outcome]
    OUTCOME_ERROR: _ClassVar[Outcome]

class Discard(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISCARD_UNSPECIFIED: _ClassVar[Discard]
    DISCARD_REVISED: _ClassVar[Discard]
    DISCARD_TEXT_DIFFERS: _ClassVar[Discard]
    DISCARD_SCREENSHOT_DIFFERS: _ClassVar[Discard]
    DISCARD_FAILED: _ClassVar[Discard]
    DISCARD_SESSION_ENDED: _ClassVar[Discard]
PROTOCOL_UNSPECIFIED: Protocol
PROTOCOL_STREAM: Protocol
PROTOCOL_LEGACY: Protocol
PHASE_UNSPECIFIED: Phase
PHASE_COLLECTING: Phase
PHASE_PROCESSING: Phase
OUTCOME_UNSPECIFIED: Outcome
OUTCOME_COMMITTED: Outcome
OUTCOME_CANCELLED: Outcome
OUTCOME_DISCONNECTED: Outcome
OUTCOME_TIMED_OUT: Outcome
OUTCOME_REFUSED: Outcome
OUTCOME_ERROR: Outcome
DISCARD_UNSPECIFIED: Discard
DISCARD_REVISED: Discard
DISCARD_TEXT_DIFFERS: Discard
DISCARD_SCREENSHOT_DIFFERS: Discard
DISCARD_FAILED: Discard
DISCARD_SESSION_ENDED: Discard

class WatchRequest(_message.Message):
    __slots__ = ("device_id", "outcomes", "aggregate_interval")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    outcomes: _containers.RepeatedScalarFieldContainer[Outcome]
    aggregate_interval: _duration_pb2.Duration
    def __init__(self, device_id: _Optional[str] = ..., outcomes: _Optional[_Iterable[_Union[Outcome, str]]] = ..., aggregate_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class WatchEvent(_message.Message):
    __slots__ = ("skipped", "time", "snapshot", "session", "aggregate")
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_FIELD_NUMBER: _ClassVar[int]
    skipped: int
    time: _timestamp_pb2.Timestamp
    snapshot: Snapshot
    session: SessionEvent
    aggregate: Aggregate
    def __init__(self, skipped: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., snapshot: _Optional[_Union[Snapshot, _Mapping]] = ..., session: _Optional[_Union[SessionEvent, _Mapping]] = ..., aggregate: _Optional[_Union[Aggregate, _Mapping]] = ...) -> None: ...

class Snapshot(_message.Message):
    __slots__ = ("sessions", "matching")
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    MATCHING_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[LiveSession]
    matching: int
    def __init__(self, sessions: _Optional[_Iterable[_Union[LiveSession, _Mapping]]] = ..., matching: _Optional[int] = ...) -> None: ...

class LiveSession(_message.Message):
    __slots__ = ("session_id", "device_id", "protocol", "phase", "age", "applied_chunks", "buffered_text_bytes", "output_frames", "client", "awaiting_resume")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    AGE_FIELD_NUMBER: _ClassVar[int]
    APPLIED_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    BUFFERED_TEXT_BYTES_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FRAMES_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    AWAITING_RESUME_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    device_id: str
    protocol: Protocol
    phase: Phase
    age: _duration_pb2.Duration
    applied_chunks: int
    buffered_text_bytes: int
    output_frames: int
    client: _session_pb2.ClientInfo
    awaiting_resume: bool
    def __init__(self, session_id: _Optional[str] = ..., device_id: _Optional[str] = ..., protocol: _Optional[_Union[Protocol, str]] = ..., phase: _Optional[_Union[Phase, str]] = ..., age: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., applied_chunks: _Optional[int] = ..., buffered_text_bytes: _Optional[int] = ..., output_frames: _Optional[int] = ..., client: _Optional[_Union[_session_pb2.ClientInfo, _Mapping]] = ..., awaiting_resume: _Optional[bool] = ...) -> None: ...

class SessionEvent(_message.Message):
    __slots__ = ("session_id", "device_id", "protocol", "opened", "collected", "committed", "first_output", "ended", "stream_lost", "resumed")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    OPENED_FIELD_NUMBER: _ClassVar[int]
    COLLECTED_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_FIELD_NUMBER: _ClassVar[int]
    FIRST_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ENDED_FIELD_NUMBER: _ClassVar[int]
    STREAM_LOST_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    device_id: str
    protocol: Protocol
    opened: Opened
    collected: Collected
    committed: Committed
    first_output: FirstOutput
    ended: Ended
    stream_lost: StreamLost
    resumed: Resumed
    def __init__(self, session_id: _Optional[str] = ..., device_id: _Optional[str] = ..., protocol: _Optional[_Union[Protocol, str]] = ..., opened: _Optional[_Union[Opened, _Mapping]] = ..., collected: _Optional[_Union[Collected, _Mapping]] = ..., committed: _Optional[_Union[Committed, _Mapping]] = ..., first_output: _Optional[_Union[FirstOutput, _Mapping]] = ..., ended: _Optional[_Union[Ended, _Mapping]] = ..., stream_lost: _Optional[_Union[StreamLost, _Mapping]] = ..., resumed: _Optional[_Union[Resumed, _Mapping]] = ...) -> None: ...

class StreamLost(_message.Message):
    __slots__ = ("resume_ttl",)
    RESUME_TTL_FIELD_NUMBER: _ClassVar[int]
    resume_ttl: _duration_pb2.Duration
    def __init__(self, resume_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Resumed(_message.Message):
    __slots__ = ("highest_applied_seq", "committed")
    HIGHEST_APPLIED_SEQ_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_FIELD_NUMBER: _ClassVar[int]
    highest_applied_seq: int
    committed: bool
    def __init__(self, highest_applied_seq: _Optional[int] = ..., committed: _Optional[bool] = ...) -> None: ...

class Opened(_message.Message):
    __slots__ = ("client",)
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    client: _session_pb2.ClientInfo
    def __init__(self, client: _Optional[_Union[_session_pb2.ClientInfo, _Mapping]] = ...) -> None: ...

class Collected(_message.Message):
    __slots__ = ("chunk_seq", "result", "applied_chunks", "buffered_text_bytes", "error")
    CHUNK_SEQ_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    APPLIED_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    BUFFERED_TEXT_BYTES_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    chunk_seq: int
    result: _session_pb2.CollectResult
    applied_chunks: int
    buffered_text_bytes: int
    error: _session_pb2.Error
    def __init__(self, chunk_seq: _Optional[int] = ..., result: _Optional[_Union[_session_pb2.CollectResult, str]] = ..., applied_chunks: _Optional[int] = ..., buffered_text_bytes: _Optional[int] = ..., error: _Optional[_Union[_session_pb2.Error, _Mapping]] = ...) -> None: ...

class Committed(_message.Message):
    __slots__ = ("applied_chunks", "has_screenshot", "collect", "prepared")
    APPLIED_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    HAS_SCREENSHOT_FIELD_NUMBER: _ClassVar[int]
    COLLECT_FIELD_NUMBER: _ClassVar[int]
    PREPARED_FIELD_NUMBER: _ClassVar[int]
    applied_chunks: int
    has_screenshot: bool
    collect: _duration_pb2.Duration
    prepared: bool
    def __init__(self, applied_chunks: _Optional[int] = ..., has_screenshot: _Optional[bool] = ..., collect: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., prepared: _Optional[bool] = ...) -> None: ...

class DiscardCount(_message.Message):
    __slots__ = ("reason", "preparations")
    REASON_FIELD_NUMBER: _ClassVar[int]
    PREPARATIONS_FIELD_NUMBER: _ClassVar[int]
    reason: Discard
    preparations: int
    def __init__(self, reason: _Optional[_Union[Discard, str]] = ..., preparations: _Optional[int] = ...) -> None: ...

class Preparations(_message.Message):
    __slots__ = ("started", "adopted", "discarded")
    STARTED_FIELD_NUMBER: _ClassVar[int]
    ADOPTED_FIELD_NUMBER: _ClassVar[int]
    DISCARDED_FIELD_NUMBER: _ClassVar[int]
    started: int
    adopted: int
    discarded: _containers.RepeatedCompositeFieldContainer[DiscardCount]
    def __init__(self, started: _Optional[int] = ..., adopted: _Optional[int] = ..., discarded: _Optional[_Iterable[_Union[DiscardCount, _Mapping]]] = ...) -> None: ...

class FirstOutput(_message.Message):
    __slots__ = ("commit_to_first_output",)
    COMMIT_TO_FIRST_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    commit_to_first_output: _duration_pb2.Duration
    def __init__(self, commit_to_first_output: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Ended(_message.Message):
    __slots__ = ("outcome", "timings", "applied_chunks", "output_frames", "error", "preparations")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    APPLIED_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FRAMES_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PREPARATIONS_FIELD_NUMBER: _ClassVar[int]
    outcome: Outcome
    timings: _session_pb2.Timings
    applied_chunks: int
    output_frames: int
    error: _session_pb2.Error
    preparations: Preparations
    def __init__(self, outcome: _Optional[_Union[Outcome, str]] = ..., timings: _Optional[_Union[_session_pb2.Timings, _Mapping]] = ..., applied_chunks: _Optional[int] = ..., output_frames: _Optional[int] = ..., error: _Optional[_Union[_session_pb2.Error, _Mapping]] = ..., preparations: _Optional[_Union[Preparations, _Mapping]] = ...) -> None: ...

class Aggregate(_message.Message):
    __slots__ = ("interval", "live", "buffered_bytes", "started_per_second", "ended_per_second", "collect_frames_per_second", "ended", "latency_window", "commit_to_first_output", "pipeline", "commit_to_first_text", "commit_to_first_audio", "llm_first_token", "tts_first_byte", "preparations", "prepared_ahead", "awaiting_resume", "resumed")
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    LIVE_FIELD_NUMBER: _ClassVar[int]
    BUFFERED_BYTES_FIELD_NUMBER: _ClassVar[int]
    STARTED_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    ENDED_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    COLLECT_FRAMES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    ENDED_FIELD_NUMBER: _ClassVar[int]
    LATENCY_WINDOW_FIELD_NUMBER: _ClassVar[int]
    COMMIT_TO_FIRST_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    COMMIT_TO_FIRST_TEXT_FIELD_NUMBER: _ClassVar[int]
    COMMIT_TO_FIRST_AUDIO_FIELD_NUMBER: _ClassVar[int]
    LLM_FIRST_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TTS_FIRST_BYTE_FIELD_NUMBER: _ClassVar[int]
    PREPARATIONS_FIELD_NUMBER: _ClassVar[int]
    PREPARED_AHEAD_FIELD_NUMBER: _ClassVar[int]
    AWAITING_RESUME_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    interval: _duration_pb2.Duration
    live: _containers.RepeatedCompositeFieldContainer[LiveCount]
    buffered_bytes: int
    started_per_second: float
    ended_per_second: float
    collect_frames_per_second: float
    ended: _containers.RepeatedCompositeFieldContainer[OutcomeCount]
    latency_window: _duration_pb2.Duration
    commit_to_first_output: Latency
    pipeline: Latency
    commit_to_first_text: Latency
    commit_to_first_audio: Latency
    llm_first_token: Latency
    tts_first_byte: Latency
    preparations: Preparations
    prepared_ahead: Latency
    awaiting_resume: int
    resumed: int
    def __init__(self, interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., live: _Optional[_Iterable[_Union[LiveCount, _Mapping]]] = ..., buffered_bytes: _Optional[int] = ..., started_per_second: _Optional[float] = ..., ended_per_second: _Optional[float] = ..., collect_frames_per_second: _Optional[float] = ..., ended: _Optional[_Iterable[_Union[OutcomeCount, _Mapping]]] = ..., latency_window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., commit_to_first_output: _Optional[_Union[Latency, _Mapping]] = ..., pipeline: _Optional[_Union[Latency, _Mapping]] = ..., commit_to_first_text: _Optional[_Union[Latency, _Mapping]] = ..., commit_to_first_audio: _Optional[_Union[Latency, _Mapping]] = ..., llm_first_token: _Optional[_Union[Latency, _Mapping]] = ..., tts_first_byte: _Optional[_Union[Latency, _Mapping]] = ..., preparations: _Optional[_Union[Preparations, _Mapping]] = ..., prepared_ahead: _Optional[_Union[Latency, _Mapping]] = ..., awaiting_resume: _Optional[int] = ..., resumed: _Optional[int] = ...) -> None: ...

class LiveCount(_message.Message):
    __slots__ = ("phase", "protocol", "sessions")
    PHASE_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    phase: Phase
    protocol: Protocol
    sessions: int
    def __init__(self, phase: _Optional[_Union[Phase, str]] = ..., protocol: _Optional[_Union[Protocol, str]] = ..., sessions: _Optional[int] = ...) -> None: ...

class OutcomeCount(_message.Message):
    __slots__ = ("outcome", "sessions")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    outcome: Outcome
    sessions: int
    def __init__(self, outcome: _Optional[_Union[Outcome, str]] = ..., sessions: _Optional[int] = ...) -> None: ...

class Latency(_message.Message):
    __slots__ = ("samples", "p50", "p95", "p99")
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    P50_FIELD_NUMBER: _ClassVar[int]
    P95_FIELD_NUMBER: _ClassVar[int]
    P99_FIELD_NUMBER: _ClassVar[int]
    samples: int
    p50: _duration_pb2.Duration
    p95: _duration_pb2.Duration
    p99: _duration_pb2.Duration
    def __init__(self, samples: _Optional[int] = ..., p50: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., p95: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., p99: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...
