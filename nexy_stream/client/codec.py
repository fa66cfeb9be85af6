"""Translation between the SDK's values and the v1 wire frames (betterproto2 dataclasses).

The client side of ``nexy_stream.server.codec``: the same domain values, carried by the
betterproto2 messages generated from ``schema/``.
"""

from __future__ import annotations

from datetime import timedelta

from nexy_stream.client._messages.nexy.stream import v1 as wire
from nexy_stream.client.errors import ServerError
from nexy_stream.client.events import Ack, AudioChunk, Committed, GoingAway, TextChunk
from nexy_stream.session import (
    Cancel,
    ClientInfo,
    Collect,
    CollectResult,
    Commit,
    EndReason,
    Limits,
    Open,
    Resume,
    Screenshot,
    Text,
    TextMode,
    Timings,
)
from nexy_stream.status import grpc_status

METHOD = "/nexy.stream.v1.SessionService/Session"

_RESULTS = {
    wire.CollectResult.APPLIED: CollectResult.APPLIED,
    wire.CollectResult.STALE: CollectResult.STALE,
    wire.CollectResult.DUPLICATE_SCREENSHOT: CollectResult.DUPLICATE_SCREENSHOT,
    wire.CollectResult.REJECTED: CollectResult.REJECTED,
}
_END_REASONS = {wire.EndReason.CANCELLED: EndReason.CANCELLED}  # else completed


def _text(value: Text) -> wire.Text:
    mode = wire.TextMode.DELTA if value.mode is TextMode.DELTA else wire.TextMode.SNAPSHOT
    return wire.Text(text=value.text, mode=mode, stable=value.stable)


def _screenshot(value: Screenshot) -> wire.Screenshot:
    return wire.Screenshot(
        data=value.data, mime_type=value.mime_type, width=value.width, height=value.height
    )


def _client(value: ClientInfo) -> wire.ClientInfo:
    return wire.ClientInfo(name=value.name, version=value.version, platform=value.platform)


def encode(frame: Open | Resume | Collect | Commit | Cancel) -> wire.ClientFrame:
    """The wire frame for one client frame of the session core's vocabulary."""
    match frame:
        case Open(session_id, device_id, client, screen):
            size = (
                None
                if screen is None
                else wire.ScreenSize(width=screen.width, height=screen.height)
            )
            return wire.ClientFrame(
                open=wire.Open(
                    session_id=session_id, device_id=device_id, client=_client(client), screen=size
                )
            )
        case Collect(seq, Text() as text):
            return wire.ClientFrame(collect=wire.Collect(chunk_seq=seq, text=_text(text)))
        case Collect(seq, Screenshot() as shot):
            return wire.ClientFrame(
                collect=wire.Collect(chunk_seq=seq, screenshot=_screenshot(shot))
            )
        case Commit(final_text, shot):
            return wire.ClientFrame(
                commit=wire.Commit(
                    final_text=None if final_text is None else _text(final_text),
                    screenshot=None if shot is None else _screenshot(shot),
                )
            )
        case Cancel(reason):
            return wire.ClientFrame(cancel=wire.Cancel(reason=reason))
        case Resume(session_id, token, last_index):
            return wire.ClientFrame(
                resume=wire.Resume(
                    session_id=session_id, resume_token=token, last_output_index=last_index
                )
            )
    raise TypeError(f"not a client frame: {frame!r}")


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def limits(message: wire.Limits | None) -> Limits:
    if message is None:
        return Limits()
    defaults = Limits()
    return Limits(
        max_text_bytes=message.max_text_bytes,
        max_chunks=message.max_chunks,
        max_screenshot_bytes=message.max_screenshot_bytes,
        max_frame_bytes=message.max_frame_bytes,
        idle_timeout_s=_seconds(message.idle_timeout) or defaults.idle_timeout_s,
        max_duration_s=_seconds(message.max_duration) or defaults.max_duration_s,
    )


def timings(message: wire.Timings | None) -> Timings:
    if message is None:
        return Timings(collect=0.0, total=0.0)
    return Timings(
        collect=_seconds(message.collect) or 0.0,
        total=_seconds(message.total) or 0.0,
        commit_to_first_output=_seconds(message.commit_to_first_output),
        pipeline=_seconds(message.pipeline),
        commit_to_first_text=_seconds(message.commit_to_first_text),
        commit_to_first_audio=_seconds(message.commit_to_first_audio),
        llm_first_token=_seconds(message.llm_first_token),
        tts_first_byte=_seconds(message.tts_first_byte),
        prepared=message.prepared,
        prepared_ahead=_seconds(message.prepared_ahead),
    )


def end_reason(message: wire.End) -> EndReason:
    return _END_REASONS.get(message.reason, EndReason.COMPLETED)


def server_error(message: wire.Error) -> ServerError:
    return ServerError(grpc_status(message.code), message.message, message.limit, message.fatal)


def ack(message: wire.CollectAck) -> Ack:
    return Ack(
        chunk_seq=message.chunk_seq,
        highest_applied_seq=message.highest_applied_seq,
        result=_RESULTS.get(message.result, CollectResult.REJECTED),
        buffered_text_bytes=message.buffered_text_bytes,
        applied_chunks=message.applied_chunks,
    )


def going_away(message: wire.GoingAway) -> GoingAway:
    return GoingAway(_seconds(message.time_left) or 0.0)


def committed(message: wire.CommitAccepted) -> Committed:
    return Committed(message.text, message.has_screenshot, message.highest_applied_seq)


def output(message: wire.Output) -> TextChunk | AudioChunk | None:
    """The event for one output frame; ``None`` for content this SDK does not know."""
    if message.audio is not None:
        audio = message.audio
        return AudioChunk(audio.data, audio.sample_rate_hz, audio.channels)
    if message.text is not None:
        return TextChunk(message.text)
    return None
