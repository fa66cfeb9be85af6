"""One structured log line per session end, and the two log formats (text, json)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from nexy_stream.ops.lifecycle import Change, ChangeKind
from nexy_stream.session import Outcome

logger = logging.getLogger("nexy_stream.sessions")
LOG_FORMATS = ("text", "json")
_FIELDS = "fields"  # the LogRecord attribute carrying the structured figures


def session_end_fields(change: Change) -> dict[str, Any]:
    """The figures of an ended session, flat, in seconds; absent moments are left out."""
    assert change.outcome is not None and change.timings is not None
    timings = change.timings
    fields: dict[str, Any] = {
        "session_id": change.session_id,
        "device_id": change.device_id,
        "protocol": change.protocol.value,
        "outcome": change.outcome.value,
        "collect_s": round(timings.collect, 6),
        "total_s": round(timings.total, 6),
        "chunks": change.applied_chunks,
        "output_frames": change.output_frames,
    }
    if timings.commit_to_first_output is not None:
        fields["first_output_s"] = round(timings.commit_to_first_output, 6)
    if timings.pipeline is not None:
        fields["pipeline_s"] = round(timings.pipeline, 6)
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
        logger.log(level, "session ended", extra={_FIELDS: session_end_fields(change)})


class TextFormatter(logging.Formatter):
    """The usual line, with structured figures appended as ``key=value``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields: dict[str, Any] = getattr(record, _FIELDS, {})
        pairs = (
            f"{key}={json.dumps(value) if _quoted(value) else value}"
            for key, value in fields.items()
        )
        return " ".join((line, *pairs))


class JsonFormatter(logging.Formatter):
    """One JSON object per line, structured figures at the top level (for log shippers)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, _FIELDS, {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def _quoted(value: object) -> bool:
    return isinstance(value, str) and (not value or any(c in value for c in ' "=\n'))


def configure_logging(level: str, log_format: str) -> None:
    """Replaces the root handler: levels by name, ``text`` or ``json`` lines on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
