"""The two log formats of every command: ``text`` (``key=value`` figures) or ``json``.

Structured figures travel in a log record's ``fields`` attribute (``extra={"fields": ...}``)
and come out as ``key=value`` pairs or as top-level JSON keys.

Logs carry values clients choose (a device id, a session id): a carriage return, a line
feed or a Unicode line separator in one would start a forged record, and a terminal escape
would reach the operator's terminal. So every record is exactly one line in either format:
control, format and line/paragraph separator characters are written as escapes (``\\x1b``
in a text message, ``\\u001b`` in JSON and in a quoted text figure, which are JSON string
literals that decode to the original), and in text a traceback is one quoted ``exception=``
figure.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

LOG_FORMATS = ("text", "json")
FIELDS = "fields"  # the LogRecord attribute carrying the structured figures

# Control (C0, DEL, C1), format (bidi overrides...), line and paragraph separators, and lone
# surrogates: none may reach a log line as itself.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def _text_escape(char: str) -> str:
    code = ord(char)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def _json_escape(char: str) -> str:
    data = char.encode("utf-16-be", "surrogatepass")  # astral characters: a surrogate pair
    return "".join(f"\\u{int.from_bytes(data[i : i + 2]):04x}" for i in range(0, len(data), 2))


def escaped(text: str, escape: Callable[[str], str] = _text_escape) -> str:
    """``text`` with every unsafe character written as an escape; the rest unchanged."""
    if text.isprintable():  # every ordinary line: nothing to look at twice
        return text
    return "".join(
        escape(char) if unicodedata.category(char) in _UNSAFE_CATEGORIES else char for char in text
    )


def _quoted(value: str) -> str:
    """A JSON string literal of ``value`` (ensure_ascii=False leaves non-ASCII readable),
    with what JSON leaves as is (DEL, C1, separators, format characters) escaped too."""
    return escaped(json.dumps(value, ensure_ascii=False), _json_escape)


def _figure(value: object) -> str:
    if not isinstance(value, str):
        return escaped(str(value))
    needs_quotes = not value or not value.isprintable() or any(c in value for c in ' "=\\')
    return _quoted(value) if needs_quotes else value


class TextFormatter(logging.Formatter):
    """The usual line, with structured figures appended as ``key=value``; one line always."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.message = escaped(record.getMessage())
        record.asctime = self.formatTime(record, self.datefmt)
        fields: dict[str, Any] = {**getattr(record, FIELDS, {})}
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            fields["exception"] = record.exc_text
        if record.stack_info:
            fields["stack"] = self.formatStack(record.stack_info)
        pairs = (f"{escaped(str(key))}={_figure(value)}" for key, value in fields.items())
        return " ".join((self.formatMessage(record), *pairs))


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
        # json.dumps escapes C0 controls; U+2028, U+2029 and NEL end a line for some
        # shippers (and str.splitlines), and C1 controls drive terminals: escape them too.
        return escaped(json.dumps(line, ensure_ascii=False), _json_escape)


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
