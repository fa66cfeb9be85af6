from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RequestPhase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REQUEST_PHASE_UNSPECIFIED: _ClassVar[RequestPhase]
    REQUEST_PHASE_COLLECT: _ClassVar[RequestPhase]
    REQUEST_PHASE_COMMIT: _ClassVar[RequestPhase]
REQUEST_PHASE_UNSPECIFIED: RequestPhase
REQUEST_PHASE_COLLECT: RequestPhase
REQUEST_PHASE_COMMIT: RequestPhase

class StreamRequest(_message.Message):
    __slots__ = ("prompt", "screenshot", "screen_width", "screen_height", "hardware_id", "session_id", "phase", "chunk_seq", "chunk_text")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    SCREENSHOT_FIELD_NUMBER: _ClassVar[int]
    SCREEN_WIDTH_FIELD_NUMBER: _ClassVar[int]
    SCREEN_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    HARDWARE_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SEQ_FIELD_NUMBER: _ClassVar[int]
    CHUNK_TEXT_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    screenshot: str
    screen_width: int
    screen_height: int
    hardware_id: str
    session_id: str
    phase: RequestPhase
    chunk_seq: int
    chunk_text: str
    def __init__(self, prompt: _Optional[str] = ..., screenshot: _Optional[str] = ..., screen_width: _Optional[int] = ..., screen_height: _Optional[int] = ..., hardware_id: _Optional[str] = ..., session_id: _Optional[str] = ..., phase: _Optional[_Union[RequestPhase, str]] = ..., chunk_seq: _Optional[int] = ..., chunk_text: _Optional[str] = ...) -> None: ...

class StreamResponse(_message.Message):
    __slots__ = ("text_chunk", "audio_chunk", "end_message", "error_message")
    TEXT_CHUNK_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CHUNK_FIELD_NUMBER: _ClassVar[int]
    END_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    text_chunk: str
    audio_chunk: AudioChunk
    end_message: str
    error_message: str
    def __init__(self, text_chunk: _Optional[str] = ..., audio_chunk: _Optional[_Union[AudioChunk, _Mapping]] = ..., end_message: _Optional[str] = ..., error_message: _Optional[str] = ...) -> None: ...

class AudioChunk(_message.Message):
    __slots__ = ("audio_data", "dtype", "shape", "sample_rate", "channels")
    AUDIO_DATA_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    audio_data: bytes
    dtype: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    sample_rate: int
    channels: int
    def __init__(self, audio_data: _Optional[bytes] = ..., dtype: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., sample_rate: _Optional[int] = ..., channels: _Optional[int] = ...) -> None: ...

class InterruptRequest(_message.Message):
    __slots__ = ("hardware_id",)
    HARDWARE_ID_FIELD_NUMBER: _ClassVar[int]
    hardware_id: str
    def __init__(self, hardware_id: _Optional[str] = ...) -> None: ...

class InterruptResponse(_message.Message):
    __slots__ = ("success", "interrupted_sessions", "message")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTED_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    interrupted_sessions: _containers.RepeatedScalarFieldContainer[str]
    message: str
    def __init__(self, success: _Optional[bool] = ..., interrupted_sessions: _Optional[_Iterable[str]] = ..., message: _Optional[str] = ...) -> None: ...
