"""The two log formats of every command: ``text`` (``key=value`` figures) or ``json``.

Structured figures travel in a log record's ``fields`` attribute (``extra={"fields": ...}``)
and come out as ``key=value`` pairs or as top-level JSON keys.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

LOG_FORMATS = ("text", "json")
FIELDS = "fields"  # the LogRecord attribute carrying the structured figures


class TextFormatter(logging.Formatter):
    """The usual line, with structured figures appended as ``key=value``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields: dict[str, Any] = getattr(record, FIELDS, {})
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
            **getattr(record, FIELDS, {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def _quoted(value: object) -> bool:
    return isinstance(value, str) and (not value or any(c in value for c in ' "=\n'))


class StaticFields(logging.Filter):
    """Adds the same figures to every record (a worker's index), before the record's own."""

    def __init__(self, fields: Mapping[str, Any]) -> None:
        super().__init__()
        self._fields = dict(fields)

    def filter(self, record: logging.LogRecord) -> bool:
        setattr(record, FIELDS, {**self._fields, **getattr(record, FIELDS, {})})
        return True


def configure_logging(level: str, log_format: str, fields: Mapping[str, Any] | None = None) -> None:
    """Replaces the root handler: levels by name, ``text`` or ``json`` lines on stderr;
    ``fields`` go on every line."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    if fields:
        handler.addFilter(StaticFields(fields))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
