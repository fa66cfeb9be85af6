"""One structured log line per session end."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from nexy_stream.logformat import FIELDS
from nexy_stream.ops.lifecycle import Change, ChangeKind
from nexy_stream.server.observer import WireProtocol
from nexy_stream.session import Outcome, Stage

logger = logging.getLogger("nexy_stream.sessions")


def device_id_hash(device_id: str) -> str:
    """The first 16 hex digits of the id's SHA-256: what ``printf %s ID | sha256sum | cut
    -c1-16`` prints, so an operator can still find one device's lines."""
    return hashlib.sha256(device_id.encode()).hexdigest()[:16]


def session_end_fields(change: Change) -> dict[str, Any]:
    """The figures of an ended session, flat, in seconds (commit -> first output, first text,
    first audio; the pipeline's stages; commit -> end); absent moments are left out.

    A legacy session without a principal is guarded by its hardware id alone (whoever
    knows it may interrupt that machine's answers), so its line holds a hash of the id
    instead of the id."""
    assert change.outcome is not None and change.timings is not None
    timings = change.timings
    device: dict[str, str] = (
        {"device_id_hash": device_id_hash(change.device_id)}
        if change.protocol is WireProtocol.LEGACY and not change.principal
        else {"device_id": change.device_id}
    )
    fields: dict[str, Any] = {
        "session_id": change.session_id,
        **device,
        **({"principal": change.principal} if change.principal else {}),
        "protocol": change.protocol.value,
        "outcome": change.outcome.value,
        "collect_s": round(timings.collect, 6),
        "total_s": round(timings.total, 6),
        "chunks": change.applied_chunks,
        "output_frames": change.output_frames,
    }
    for name, seconds in (
        ("first_output_s", timings.commit_to_first_output),
        ("first_text_s", timings.commit_to_first_text),
        ("first_audio_s", timings.commit_to_first_audio),
        *((f"{stage.value}_s", timings.stage(stage)) for stage in Stage),
        ("pipeline_s", timings.pipeline),
    ):
        if seconds is not None:
            fields[name] = round(seconds, 6)
    prepared = change.preparations
    if prepared.started:
        fields["preparations"] = prepared.started
        fields["prepared"] = prepared.adopted
        if prepared.ahead_s is not None:
            fields["prepared_ahead_s"] = round(prepared.ahead_s, 6)
        for reason, count in prepared.discarded.items():
            fields[f"discarded_{reason.value}"] = count
    if change.error is not None:
        fields["error_code"] = change.error.code.name
        fields["error"] = change.error.message
    return fields


def log_session_end(change: Change) -> None:
    """A sink: logs every ended session at INFO (errors of the pipeline at WARNING)."""
    if change.kind is not ChangeKind.ENDED or change.outcome is None:
        return
    level = logging.WARNING if change.outcome is Outcome.ERROR else logging.INFO
    if logger.isEnabledFor(level):
        logger.log(level, "session ended", extra={FIELDS: session_end_fields(change)})
