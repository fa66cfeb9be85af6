"""Translation between the v1 wire frames (protobuf/upb) and the session core's values."""

from __future__ import annotations

from google.protobuf.duration_pb2 import Duration

from nexy_stream._proto.nexy.stream.v1 import session_pb2 as pb
from nexy_stream.pipeline import Output, TextOutput
from nexy_stream.session import (
    Accept,
    Ack,
    Cancel,
    ClientInfo,
    Collect,
    CollectResult,
    Commit,
    Dispatch,
    EndReason,
    Event,
    GoAway,
    Limits,
    Open,
    Resume,
    Resumed,
    Screenshot,
    ScreenSize,
    SessionError,
    Stage,
    Text,
    TextMode,
    Timings,
)

_TEXT_MODES = {pb.TEXT_MODE_DELTA: TextMode.DELTA}  # everything else is a snapshot
_RESULTS = {
    CollectResult.APPLIED: pb.COLLECT_RESULT_APPLIED,
    CollectResult.STALE: pb.COLLECT_RESULT_STALE,
    CollectResult.DUPLICATE_SCREENSHOT: pb.COLLECT_RESULT_DUPLICATE_SCREENSHOT,
    CollectResult.REJECTED: pb.COLLECT_RESULT_REJECTED,
}
_END_REASONS = {
    EndReason.COMPLETED: pb.END_REASON_COMPLETED,
    EndReason.CANCELLED: pb.END_REASON_CANCELLED,
}


def _text(message: pb.Text) -> Text:
    return Text(message.text, _TEXT_MODES.get(message.mode, TextMode.SNAPSHOT), message.stable)


def _screenshot(message: pb.Screenshot) -> Screenshot:
    return Screenshot(message.data, message.mime_type, message.width, message.height)


def decode(frame: pb.ClientFrame) -> Event | None:
    """The event a client frame stands for; ``None`` for a frame with no kind set."""
    kind = frame.WhichOneof("kind")
    if kind == "collect":
        collect = frame.collect
        payload = collect.WhichOneof("payload")
        if payload == "text":
            return Collect(collect.chunk_seq, _text(collect.text))
        if payload == "screenshot":
            return Collect(collect.chunk_seq, _screenshot(collect.screenshot))
        return Collect(collect.chunk_seq, None)
    if kind == "commit":
        commit = frame.commit
        return Commit(
            _text(commit.final_text) if commit.HasField("final_text") else None,
            _screenshot(commit.screenshot) if commit.HasField("screenshot") else None,
        )
    if kind == "open":
        opened = frame.open
        client = ClientInfo(opened.client.name, opened.client.version, opened.client.platform)
        screen = (
            ScreenSize(opened.screen.width, opened.screen.height)
            if opened.HasField("screen")
            else None
        )
        return Open(opened.session_id, opened.device_id, client, screen)
    if kind == "cancel":
        return Cancel(frame.cancel.reason)
    if kind == "resume":
        resume = frame.resume
        return Resume(resume.session_id, resume.resume_token, resume.last_output_index)
    return None


def duration(seconds: float) -> Duration:
    value = Duration()
    value.FromNanoseconds(round(seconds * 1e9))
    return value


def limits(value: Limits) -> pb.Limits:
    return pb.Limits(
        max_frame_bytes=value.max_frame_bytes,
        max_text_bytes=value.max_text_bytes,
        max_chunks=value.max_chunks,
        max_screenshot_bytes=value.max_screenshot_bytes,
        idle_timeout=duration(value.idle_timeout_s),
        max_duration=duration(value.max_duration_s),
    )


def error(value: SessionError, fatal: bool) -> pb.Error:
    return pb.Error(code=int(value.code), message=value.message, limit=value.limit, fatal=fatal)


OPTIONAL_TIMINGS = (
    "commit_to_first_output",
    "pipeline",
    "commit_to_first_text",
    "commit_to_first_audio",
    *(stage.value for stage in Stage),
    "prepared_ahead",
)
"""The fields of Timings that are absent when their moment never came; each is named alike
in the session's values and on the wire (a stage's field is named by its value)."""


def timings(value: Timings) -> pb.Timings:
    message = pb.Timings(
        collect=duration(value.collect), total=duration(value.total), prepared=value.prepared
    )
    for name in OPTIONAL_TIMINGS:
        seconds = getattr(value, name)
        if seconds is not None:
            getattr(message, name).CopyFrom(duration(seconds))
    return message


def accepted(effect: Accept, pipeline_name: str, resume_token: str) -> pb.ServerFrame:
    message = pb.Accepted(
        session_id=effect.session_id, limits=limits(effect.limits), pipeline=pipeline_name
    )
    if resume_token:
        message.resume_token = resume_token
        message.resume_ttl.CopyFrom(duration(effect.limits.resume_ttl_s))
    return pb.ServerFrame(accepted=message)


def resumed(effect: Resumed, next_output_index: int) -> pb.ServerFrame:
    message = pb.Resumed(
        session_id=effect.session_id,
        highest_applied_seq=effect.highest_applied_seq,
        next_output_index=next_output_index,
    )
    if effect.committed is not None:
        message.committed.CopyFrom(commit_accepted(effect.committed).commit_accepted)
    return pb.ServerFrame(resumed=message)


def ack(effect: Ack) -> pb.ServerFrame:
    # One per collect frame: fields are set in place, half the cost of nested constructors.
    frame = pb.ServerFrame()
    message = frame.collect_ack
    message.chunk_seq = max(effect.chunk_seq, 0)
    message.highest_applied_seq = effect.highest_applied_seq
    message.result = _RESULTS[effect.result]
    message.buffered_text_bytes = effect.buffered_text_bytes
    message.applied_chunks = effect.applied_chunks
    if effect.error is not None:
        message.error.CopyFrom(error(effect.error, fatal=False))
    return frame


def commit_accepted(effect: Dispatch) -> pb.ServerFrame:
    return pb.ServerFrame(
        commit_accepted=pb.CommitAccepted(
            text=effect.request.text,
            has_screenshot=effect.request.screenshot is not None,
            highest_applied_seq=effect.highest_applied_seq,
        )
    )


def output(value: Output, index: int) -> pb.ServerFrame:
    if isinstance(value, TextOutput):
        return pb.ServerFrame(output=pb.Output(text=value.text, index=index))
    audio = pb.Audio(
        data=value.data,
        encoding=pb.AUDIO_ENCODING_PCM_S16LE,
        sample_rate_hz=value.sample_rate_hz,
        channels=value.channels,
    )
    return pb.ServerFrame(output=pb.Output(audio=audio, index=index))


def end(reason: EndReason, figures: Timings, output_frames: int) -> pb.ServerFrame:
    return pb.ServerFrame(
        end=pb.End(
            reason=_END_REASONS[reason],
            timings=timings(figures),
            output_frames=output_frames,
        )
    )


def going_away(effect: GoAway) -> pb.ServerFrame:
    return pb.ServerFrame(going_away=pb.GoingAway(time_left=duration(effect.time_left_s)))


def failure(value: SessionError, fatal: bool) -> pb.ServerFrame:
    return pb.ServerFrame(error=error(value, fatal))
