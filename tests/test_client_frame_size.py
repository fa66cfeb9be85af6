"""Frames over the server's max_frame_bytes: refused by the SDK before sending when it knows
the limit, and reported as the server's RESOURCE_EXHAUSTED when it does not."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from nexy_stream.client import (
    Client,
    Event,
    FrameTooLargeError,
    ServerError,
    Session,
    TextChunk,
    TransportError,
)
from nexy_stream.session import Limits
from tests.conftest import StartServer
from tests.recorder import Recorder

pytestmark = pytest.mark.anyio

SMALL = Limits(max_screenshot_bytes=1024, max_frame_bytes=2048)
UNKNOWN = Limits(max_screenshot_bytes=10**8, max_frame_bytes=10**9)  # as if never told


async def answer(session: Session) -> list[Event]:
    return [event async for event in session]


@pytest.mark.parametrize(
    ("call", "what"),
    [
        (lambda s: s.screenshot(b"x" * 3000, mime_type="image/webp"), "the screenshot"),
        (lambda s: s.interim("é" * 1500), "the interim's text"),
        (lambda s: s.commit("x" * 3000), "the commit's text and screenshot"),
    ],
)
async def test_content_over_max_frame_bytes_is_refused_before_sending(
    start: StartServer, call: Any, what: str
):
    recorder = Recorder()
    server = await start(limits=SMALL, observers=(recorder,))
    async with Client(server.target) as client, client.session(device_id="mac-1") as s:
        assert s.limits.max_frame_bytes == 2048  # told in accepted
        with pytest.raises(FrameTooLargeError) as raised:
            await call(s)
        await s.commit("still fine")  # the session goes on
        events = await answer(s)
    assert str(raised.value) == (
        f"{what} is 3000 bytes, over max_frame_bytes=2048 (the largest frame the server "
        "reads); it was not sent"
    )
    assert (raised.value.size, raised.value.max_frame_bytes) == (3000, 2048)
    assert "".join(e.text for e in events if isinstance(e, TextChunk)) == "still fine"
    assert recorder.screenshots_received == 0
    assert [r.text for r in recorder.dispatched] == ["still fine"]


async def test_a_frame_over_the_limit_by_its_framing_fails_the_session_unsent(start: StartServer):
    recorder = Recorder()
    server = await start(limits=SMALL, observers=(recorder,))
    async with Client(server.target) as client, client.session(device_id="mac-1") as s:
        await s.screenshot(b"x" * 2040, mime_type="image/webp")  # fits; its frame does not
        with pytest.raises(FrameTooLargeError, match=r"the collect frame is 20..? bytes, over"):
            await answer(s)
    assert recorder.screenshots_received == 0
    assert recorder.dispatched == []


async def test_a_frame_the_sdk_did_not_know_was_too_large_gets_the_servers_error(
    start: StartServer,
):
    server = await start(limits=SMALL)
    async with Client(server.target) as client, client.session(device_id="mac-1") as s:
        s.limits = UNKNOWN
        with pytest.raises((ServerError, TransportError)) as raised:
            await s.screenshot(b"x" * 3000, mime_type="image/webp")
            for n in range(50):  # writes still going out when the server ends the stream
                await s.interim(f"and {n}")
            await answer(s)
    assert raised.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "over max_frame_bytes=2048" in raised.value.message


async def test_a_status_grpcio_overwrites_after_a_failed_write_is_reported_as_sent(
    start: StartServer,
):
    """grpcio replaces a call's status with INTERNAL "Internal error from Core" when a write
    fails because the call has just ended (grpc/aio/_call.py): here it is made to happen
    right after the server's status arrives, as it does when a write races the end."""
    server = await start(limits=SMALL)
    async with Client(server.target) as client, client.session(device_id="mac-1") as s:
        s.limits = UNKNOWN
        overwritten: list[grpc.StatusCode] = []

        def overwrite(call: Any) -> None:
            if not overwritten:
                overwritten.append(call._cython_call._status.code())
                call._cython_call.set_internal_error('Failed "send_serialized_message"')

        s._call.add_done_callback(overwrite)
        too_large_for_grpc = b"x" * server.config.transport_max_frame_bytes
        await s.screenshot(too_large_for_grpc, mime_type="image/webp")
        with pytest.raises(TransportError) as raised:
            await answer(s)
    assert overwritten
    assert raised.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in raised.value.message
