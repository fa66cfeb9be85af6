import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TextMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TEXT_MODE_UNSPECIFIED: _ClassVar[TextMode]
    TEXT_MODE_SNAPSHOT: _ClassVar[TextMode]
    TEXT_MODE_DELTA: _ClassVar[TextMode]

class CollectResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COLLECT_RESULT_UNSPECIFIED: _ClassVar[CollectResult]
    COLLECT_RESULT_APPLIED: _ClassVar[CollectResult]
    COLLECT_RESULT_STALE: _ClassVar[CollectResult]
    COLLECT_RESULT_DUPLICATE_SCREENSHOT: _ClassVar[CollectResult]
    COLLECT_RESULT_REJECTED: _ClassVar[CollectResult]

class AudioEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIO_ENCODING_UNSPECIFIED: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_PCM_S16LE: _ClassVar[AudioEncoding]

class EndReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    END_REASON_UNSPECIFIED: _ClassVar[EndReason]
    END_REASON_COMPLETED: _ClassVar[EndReason]
    END_REASON_CANCELLED: _ClassVar[EndReason]
TEXT_MODE_UNSPECIFIED: TextMode
TEXT_MODE_SNAPSHOT: TextMode
TEXT_MODE_DELTA: TextMode
COLLECT_RESULT_UNSPECIFIED: CollectResult
COLLECT_RESULT_APPLIED: CollectResult
COLLECT_RESULT_STALE: CollectResult
COLLECT_RESULT_DUPLICATE_SCREENSHOT: CollectResult
COLLECT_RESULT_REJECTED: CollectResult
AUDIO_ENCODING_UNSPECIFIED: AudioEncoding
AUDIO_ENCODING_PCM_S16LE: AudioEncoding
END_REASON_UNSPECIFIED: EndReason
END_REASON_COMPLETED: EndReason
END_REASON_CANCELLED: EndReason

class ClientFrame(_message.Message):
    __slots__ = ("open", "collect", "commit", "cancel", "resume")
    OPEN_FIELD_NUMBER: _ClassVar[int]
    COLLECT_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    open: Open
    collect: Collect
    commit: Commit
    cancel: Cancel
    resume: Resume
    def __init__(self, open: _Optional[_Union[Open, _Mapping]] = ..., collect: _Optional[_Union[Collect, _Mapping]] = ..., commit: _Optional[_Union[Commit, _Mapping]] = ..., cancel: _Optional[_Union[Cancel, _Mapping]] = ..., resume: _Optional[_Union[Resume, _Mapping]] = ...) -> None: ...

class Resume(_message.Message):
    __slots__ = ("session_id", "resume_token", "last_output_index")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LAST_OUTPUT_INDEX_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    resume_token: str
    last_output_index: int
    def __init__(self, session_id: _Optional[str] = ..., resume_token: _Optional[str] = ..., last_output_index: _Optional[int] = ...) -> None: ...

class Open(_message.Message):
    __slots__ = ("session_id", "device_id", "client", "screen")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    SCREEN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    device_id: str
    client: ClientInfo
    screen: ScreenSize
    def __init__(self, session_id: _Optional[str] = ..., device_id: _Optional[str] = ..., client: _Optional[_Union[ClientInfo, _Mapping]] = ..., screen: _Optional[_Union[ScreenSize, _Mapping]] = ...) -> None: ...

class ClientInfo(_message.Message):
    __slots__ = ("name", "version", "platform")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    platform: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., platform: _Optional[str] = ...) -> None: ...

class ScreenSize(_message.Message):
    __slots__ = ("width", "height")
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    width: int
    height: int
    def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class Text(_message.Message):
    __slots__ = ("text", "mode", "stable")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    STABLE_FIELD_NUMBER: _ClassVar[int]
    text: str
    mode: TextMode
    stable: bool
    def __init__(self, text: _Optional[str] = ..., mode: _Optional[_Union[TextMode, str]] = ..., stable: _Optional[bool] = ...) -> None: ...

class Screenshot(_message.Message):
    __slots__ = ("data", "mime_type", "width", "height")
    DATA_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    mime_type: str
    width: int
    height: int
    def __init__(self, data: _Optional[bytes] = ..., mime_type: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class Collect(_message.Message):
    __slots__ = ("chunk_seq", "text", "screenshot")
    CHUNK_SEQ_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SCREENSHOT_FIELD_NUMBER: _ClassVar[int]
    chunk_seq: int
    text: Text
    screenshot: Screenshot
    def __init__(self, chunk_seq: _Optional[int] = ..., text: _Optional[_Union[Text, _Mapping]] = ..., screenshot: _Optional[_Union[Screenshot, _Mapping]] = ...) -> None: ...

class Commit(_message.Message):
    __slots__ = ("final_text", "screenshot")
    FINAL_TEXT_FIELD_NUMBER: _ClassVar[int]
    SCREENSHOT_FIELD_NUMBER: _ClassVar[int]
    final_text: Text
    screenshot: Screenshot
    def __init__(self, final_text: _Optional[_Union[Text, _Mapping]] = ..., screenshot: _Optional[_Union[Screenshot, _Mapping]] = ...) -> None: ...

class Cancel(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class ServerFrame(_message.Message):
    __slots__ = ("accepted", "collect_ack", "commit_accepted", "output", "end", "error", "going_away", "resumed")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    COLLECT_ACK_FIELD_NUMBER: _ClassVar[int]
    COMMIT_ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    GOING_AWAY_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    accepted: Accepted
    collect_ack: CollectAck
    commit_accepted: CommitAccepted
    output: Output
    end: End
    error: Error
    going_away: GoingAway
    resumed: Resumed
    def __init__(self, accepted: _Optional[_Union[Accepted, _Mapping]] = ..., collect_ack: _Optional[_Union[CollectAck, _Mapping]] = ..., commit_accepted: _Optional[_Union[CommitAccepted, _Mapping]] = ..., output: _Optional[_Union[Output, _Mapping]] = ..., end: _Optional[_Union[End, _Mapping]] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., going_away: _Optional[_Union[GoingAway, _Mapping]] = ..., resumed: _Optional[_Union[Resumed, _Mapping]] = ...) -> None: ...

class GoingAway(_message.Message):
    __slots__ = ("time_left",)
    TIME_LEFT_FIELD_NUMBER: _ClassVar[int]
    time_left: _duration_pb2.Duration
    def __init__(self, time_left: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_frame_bytes", "max_text_bytes", "max_chunks", "max_screenshot_bytes", "idle_timeout", "max_duration")
    MAX_FRAME_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_TEXT_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    MAX_SCREENSHOT_BYTES_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    MAX_DURATION_FIELD_NUMBER: _ClassVar[int]
    max_frame_bytes: int
    max_text_bytes: int
    max_chunks: int
    max_screenshot_bytes: int
    idle_timeout: _duration_pb2.Duration
    max_duration: _duration_pb2.Duration
    def __init__(self, max_frame_bytes: _Optional[int] = ..., max_text_bytes: _Optional[int] = ..., max_chunks: _Optional[int] = ..., max_screenshot_bytes: _Optional[int] = ..., idle_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Accepted(_message.Message):
    __slots__ = ("session_id", "limits", "pipeline", "resume_token", "resume_ttl")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RESUME_TTL_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    limits: Limits
    pipeline: str
    resume_token: str
    resume_ttl: _duration_pb2.Duration
    def __init__(self, session_id: _Optional[str] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., pipeline: _Optional[str] = ..., resume_token: _Optional[str] = ..., resume_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Resumed(_message.Message):
    __slots__ = ("session_id", "highest_applied_seq", "committed", "next_output_index")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    HIGHEST_APPLIED_SEQ_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_FIELD_NUMBER: _ClassVar[int]
    NEXT_OUTPUT_INDEX_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    highest_applied_seq: int
    committed: CommitAccepted
    next_output_index: int
    def __init__(self, session_id: _Optional[str] = ..., highest_applied_seq: _Optional[int] = ..., committed: _Optional[_Union[CommitAccepted, _Mapping]] = ..., next_output_index: _Optional[int] = ...) -> None: ...

class CollectAck(_message.Message):
    __slots__ = ("chunk_seq", "highest_applied_seq", "result", "error", "buffered_text_bytes", "applied_chunks")
    CHUNK_SEQ_FIELD_NUMBER: _ClassVar[int]
    HIGHEST_APPLIED_SEQ_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    BUFFERED_TEXT_BYTES_FIELD_NUMBER: _ClassVar[int]
    APPLIED_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    chunk_seq: int
    highest_applied_seq: int
    result: CollectResult
    error: Error
    buffered_text_bytes: int
    applied_chunks: int
    def __init__(self, chunk_seq: _Optional[int] = ..., highest_applied_seq: _Optional[int] = ..., result: _Optional[_Union[CollectResult, str]] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., buffered_text_bytes: _Optional[int] = ..., applied_chunks: _Optional[int] = ...) -> None: ...

class CommitAccepted(_message.Message):
    __slots__ = ("text", "has_screenshot", "highest_applied_seq")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    HAS_SCREENSHOT_FIELD_NUMBER: _ClassVar[int]
    HIGHEST_APPLIED_SEQ_FIELD_NUMBER: _ClassVar[int]
    text: str
    has_screenshot: bool
    highest_applied_seq: int
    def __init__(self, text: _Optional[str] = ..., has_screenshot: _Optional[bool] = ..., highest_applied_seq: _Optional[int] = ...) -> None: ...

class Audio(_message.Message):
    __slots__ = ("data", "encoding", "sample_rate_hz", "channels")
    DATA_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    encoding: AudioEncoding
    sample_rate_hz: int
    channels: int
    def __init__(self, data: _Optional[bytes] = ..., encoding: _Optional[_Union[AudioEncoding, str]] = ..., sample_rate_hz: _Optional[int] = ..., channels: _Optional[int] = ...) -> None: ...

class Output(_message.Message):
    __slots__ = ("text", "audio", "index")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    text: str
    audio: Audio
    index: int
    def __init__(self, text: _Optional[str] = ..., audio: _Optional[_Union[Audio, _Mapping]] = ..., index: _Optional[int] = ...) -> None: ...

class Timings(_message.Message):
    __slots__ = ("collect", "commit_to_first_output", "pipeline", "total", "commit_to_first_text", "commit_to_first_audio", "llm_first_token", "tts_first_byte", "prepared", "prepared_ahead")
    COLLECT_FIELD_NUMBER: _ClassVar[int]
    COMMIT_TO_FIRST_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    COMMIT_TO_FIRST_TEXT_FIELD_NUMBER: _ClassVar[int]
    COMMIT_TO_FIRST_AUDIO_FIELD_NUMBER: _ClassVar[int]
    LLM_FIRST_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TTS_FIRST_BYTE_FIELD_NUMBER: _ClassVar[int]
    PREPARED_FIELD_NUMBER: _ClassVar[int]
    PREPARED_AHEAD_FIELD_NUMBER: _ClassVar[int]
    collect: _duration_pb2.Duration
    commit_to_first_output: _duration_pb2.Duration
    pipeline: _duration_pb2.Duration
    total: _duration_pb2.Duration
    commit_to_first_text: _duration_pb2.Duration
    commit_to_first_audio: _duration_pb2.Duration
    llm_first_token: _duration_pb2.Duration
    tts_first_byte: _duration_pb2.Duration
    prepared: bool
    prepared_ahead: _duration_pb2.Duration
    def __init__(self, collect: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., commit_to_first_output: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., pipeline: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., total: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., commit_to_first_text: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., commit_to_first_audio: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., llm_first_token: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., tts_first_byte: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., prepared: _Optional[bool] = ..., prepared_ahead: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class End(_message.Message):
    __slots__ = ("reason", "timings", "output_frames")
    REASON_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FRAMES_FIELD_NUMBER: _ClassVar[int]
    reason: EndReason
    timings: Timings
    output_frames: int
    def __init__(self, reason: _Optional[_Union[EndReason, str]] = ..., timings: _Optional[_Union[Timings, _Mapping]] = ..., output_frames: _Optional[int] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message", "limit", "fatal")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    FATAL_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    limit: str
    fatal: bool
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., limit: _Optional[str] = ..., fatal: _Optional[bool] = ...) -> None: ...
