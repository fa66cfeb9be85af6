import pytest

from tests.wire import DELTA, RawSession, commit_frame, text_frame

pytestmark = pytest.mark.anyio


async def test_committed_text_comes_back(channel):
    session = RawSession(channel)
    await session.open()
    ack = (await session.exchange(text_frame(1, "hello wor"))).collect_ack
    assert ack.highest_applied_seq == 1
    await session.exchange(text_frame(2, "hello world"))
    await session.send(commit_frame(" again", DELTA))
    answer = await session.drain()
    assert answer.frames[0].commit_accepted.text == "hello world again"
    assert answer.text == "hello world again"
    assert answer.kinds()[-1] == "end"
