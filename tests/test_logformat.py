"""Log lines carry client-chosen values: each record stays one line, with no terminal
escape, in both formats."""

from __future__ import annotations

import io
import json
import logging
import sys
import unicodedata
from collections.abc import Iterator

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexy_stream.logformat import FIELDS, JsonFormatter, TextFormatter
from tests.wire import RawSession, commit_frame

# What a hostile device id may hold: CR, ESC sequences, the Unicode line and paragraph
# separators, NEL and the other characters str.splitlines breaks on, a C1 control (CSI), a
# bidi override and a lone surrogate; no space, so nothing asks for quotes.
HOSTILE = "mac\rforged\x1b[2J\u2028x\u2029y\x85\x0b\x0c\x1c\x1d\x1e\x9b\u202e\ud800"
UNSAFE = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def record(message: str = "session ended", *args: object, **fields: object) -> logging.LogRecord:
    made = logging.LogRecord("nexy_stream.sessions", logging.INFO, __file__, 1, message, args, None)
    setattr(made, FIELDS, fields)
    return made


def assert_one_safe_line(line: str) -> None:
    assert len(line.splitlines()) == 1, line
    assert not [c for c in line if unicodedata.category(c) in UNSAFE], ascii(line)


def test_text_escapes_a_hostile_figure() -> None:
    line = TextFormatter().format(record(device_id=HOSTILE, outcome="committed"))
    assert_one_safe_line(line)
    quoted = line.split(" device_id=")[1].removesuffix(" outcome=committed")
    assert json.loads(quoted) == HOSTILE  # a JSON string literal: decodes to the original
    assert "\\rforged\\u001b[2J\\u2028x\\u2029y\\u0085" in quoted


def test_text_escapes_the_message_and_its_arguments() -> None:
    line = TextFormatter().format(record("device %s said\nhi", HOSTILE))
    assert_one_safe_line(line)
    assert "said\\x0ahi" in line


def test_text_keeps_ordinary_figures_readable() -> None:
    line = TextFormatter().format(record(device_id="my-mac", name="Zoë", error="a b", n=3))
    assert line.endswith(' device_id=my-mac name=Zoë error="a b" n=3')


def test_text_writes_a_traceback_as_one_figure() -> None:
    try:
        raise ValueError(HOSTILE)
    except ValueError:
        made = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = TextFormatter().format(made)
    assert_one_safe_line(line)
    assert ' exception="Traceback (most recent call last):\\n' in line


def test_json_escapes_what_json_dumps_leaves_and_decodes_to_the_original() -> None:
    line = JsonFormatter().format(record(device_id=HOSTILE))
    assert_one_safe_line(line)
    assert "\\u2028" in line and "\\u2029" in line and "\\u0085" in line and "\\u009b" in line
    assert json.loads(line)["device_id"] == HOSTILE


def test_json_keeps_ordinary_text_readable() -> None:
    line = JsonFormatter().format(record(name="Zoë 中"))
    assert '"name": "Zoë 中"' in line


@given(st.text(), st.text())
def test_any_value_is_one_safe_line_in_both_formats(value: str, message: str) -> None:
    made = record(message, device_id=value)  # no arguments: the message is taken as is
    assert_one_safe_line(TextFormatter().format(made))
    line = JsonFormatter().format(made)
    assert_one_safe_line(line)
    assert json.loads(line)["device_id"] == value
    assert json.loads(line)["message"] == message


# -- a real session's end, logged by the server ---------------------------------------------


@pytest.fixture
def text_log() -> Iterator[io.StringIO]:
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(TextFormatter())
    logger = logging.getLogger("nexy_stream.sessions")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield sink
    logger.setLevel(previous)
    logger.removeHandler(handler)


@pytest.mark.anyio
async def test_a_hostile_device_id_cannot_forge_a_session_end_line(server, text_log) -> None:
    device_id = "mac\r\x1b[2K2026-01-01\u2028INFO\x1b[31mforged"
    async with grpc.aio.insecure_channel(server.target) as channel:
        session = RawSession(channel)
        await session.open(device_id=device_id)
        await session.send(commit_frame("hi"))
        await session.drain()
    lines = text_log.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert_one_safe_line(lines[0])
    assert 'device_id="mac\\r\\u001b[2K2026-01-01\\u2028INFO\\u001b[31mforged"' in lines[0]
