"""The synchronous face: the same sessions, blocking, against the real server."""

from __future__ import annotations

import uuid

import grpc
import pytest

from nexy_stream.client import (
    Committed,
    Ended,
    EndReason,
    ProtocolUsageError,
    ServerError,
    SyncClient,
    TextChunk,
)


def test_sync_session_happy_path(threaded_server):
    with (
        SyncClient(threaded_server.target) as client,
        client.session(device_id="mac-1") as s,
    ):
        s.interim("what is")
        s.interim(" on my screen", delta=True)
        s.screenshot(b"png bytes", mime_type="image/png")
        s.commit()
        events = list(s)
    assert events[0] == Committed("what is on my screen", True, s.stats.applied)
    assert "".join(e.text for e in events if isinstance(e, TextChunk)) == "what is on my screen"
    assert isinstance(events[-1], Ended) and events[-1].reason is EndReason.COMPLETED
    assert s.ended is events[-1] and s.error is None
    assert uuid.UUID(s.session_id) and s.limits.max_text_bytes > 0
    assert s.pipeline == "echo"


def test_sync_guard_cancel_and_errors(threaded_server):
    taken = str(uuid.uuid4())
    with SyncClient(threaded_server.target) as client:
        with client.session(device_id="mac-1", session_id=taken) as s:
            with pytest.raises(ServerError) as raised, client.session("mac-2", session_id=taken):
                pytest.fail("a second live session with the same id was opened")
            assert raised.value.code is grpc.StatusCode.ALREADY_EXISTS
            s.commit("hello")
            with pytest.raises(ProtocolUsageError, match="already committed"):
                s.commit("hello")
            assert [type(e) for e in s.events()][-1] is Ended
        with client.session(device_id="mac-1") as s:
            s.interim("never mind")
            ended = s.cancel()
            assert ended is not None and ended.reason is EndReason.CANCELLED


def test_sync_client_outside_its_block_is_refused():
    client = SyncClient("127.0.0.1:9")
    with pytest.raises(ProtocolUsageError), client.session(device_id="mac-1"):
        pass
