"""Client frames (protobuf/upb) for the domain values an utterance is made of."""

from __future__ import annotations

from nexy_stream._proto.nexy.stream.v1 import session_pb2 as pb
from nexy_stream.session import Screenshot, Text, TextMode

_MODES = {TextMode.SNAPSHOT: pb.TEXT_MODE_SNAPSHOT, TextMode.DELTA: pb.TEXT_MODE_DELTA}


def text(value: Text) -> pb.Text:
    return pb.Text(text=value.text, mode=_MODES[value.mode])


def screenshot(value: Screenshot) -> pb.Screenshot:
    return pb.Screenshot(
        data=value.data, mime_type=value.mime_type, width=value.width, height=value.height
    )


def open_frame(session_id: str, device_id: str) -> pb.ClientFrame:
    return pb.ClientFrame(open=pb.Open(session_id=session_id, device_id=device_id))


def collect_frame(seq: int, payload: Text | Screenshot) -> pb.ClientFrame:
    if isinstance(payload, Text):
        return pb.ClientFrame(collect=pb.Collect(chunk_seq=seq, text=text(payload)))
    return pb.ClientFrame(collect=pb.Collect(chunk_seq=seq, screenshot=screenshot(payload)))


def commit_frame(
    final_text: Text | None = None, final_screenshot: Screenshot | None = None
) -> pb.ClientFrame:
    commit = pb.Commit()
    if final_text is not None:
        commit.final_text.CopyFrom(text(final_text))
    if final_screenshot is not None:
        commit.screenshot.CopyFrom(screenshot(final_screenshot))
    return pb.ClientFrame(commit=commit)


def cancel_frame(reason: str) -> pb.ClientFrame:
    return pb.ClientFrame(cancel=pb.Cancel(reason=reason))


def resume_frame(session_id: str, token: str, last_output_index: int) -> pb.ClientFrame:
    return pb.ClientFrame(
        resume=pb.Resume(
            session_id=session_id, resume_token=token, last_output_index=last_output_index
        )
    )
