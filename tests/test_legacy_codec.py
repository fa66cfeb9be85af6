"""The legacy translation rules that need no server: sequence mapping, ids, audio."""

from __future__ import annotations

import struct
import uuid

from hypothesis import given
from hypothesis import strategies as st

from nexy_stream._proto import streaming_pb2 as pb
from nexy_stream.legacy import codec
from nexy_stream.pipeline import AudioOutput
from nexy_stream.session import (
    Ack,
    CollectResult,
    Limits,
    Open,
    Screenshot,
    SessionActor,
    SessionError,
    Text,
)
from tests.actors import admit

_call = st.tuples(st.integers(1, 6), st.booleans(), st.booleans())  # seq, text?, screenshot?


@given(st.lists(_call, max_size=12))
def test_calls_sharing_a_seq_keep_the_stale_rule(calls: list[tuple[int, bool, bool]]) -> None:
    """A legacy call is applied exactly when its chunk_seq is above every applied one."""
    actor = SessionActor(Limits(), now=0.0)
    admit(actor, Open(str(uuid.uuid4()), "hw-1"))
    highest = 0
    for seq, has_text, has_shot in calls:
        text = Text(f"t{seq}") if has_text else None
        shot = Screenshot(f"s{seq}".encode(), "image/webp") if has_shot else None
        results = []
        for event in codec.collect_events(seq, text, shot):
            effect = actor.handle(event, 0.0)
            assert isinstance(effect, Ack)
            results.append(effect.result)
        if seq <= highest:
            assert set(results) == {CollectResult.STALE}
        elif not (has_text or has_shot):
            assert results == [CollectResult.REJECTED]
        else:
            assert CollectResult.STALE not in results
            highest = seq


def request(hardware_id: str = "hw-1", session_id: str = "", **fields: object) -> pb.StreamRequest:
    return pb.StreamRequest(hardware_id=hardware_id, session_id=session_id, **fields)  # type: ignore[arg-type]


def test_session_key_is_the_canonical_uuid() -> None:
    value = uuid.uuid4()
    for spelling in (str(value).upper(), value.hex, "{" + str(value) + "}", value.urn):
        assert codec.session_key(request(session_id=spelling), Limits()) == str(value)


def test_session_key_names_the_hardware_id_first() -> None:
    problem = codec.session_key(request("unknown", "bad"), Limits())
    assert isinstance(problem, SessionError)
    assert problem.message.startswith("hardware_id")


def test_screenshot_base64_may_be_wrapped_in_lines() -> None:
    shot = codec.screenshot(request(screenshot="aGVs\nbG8="))
    assert isinstance(shot, Screenshot)
    assert shot.data == b"hello"
    assert codec.screenshot(request(screenshot="")) is None


def pcm(*samples: int) -> bytes:
    return struct.pack(f"<{len(samples)}h", *samples)


def test_audio_response_says_its_shape() -> None:
    response = codec.output(AudioOutput(pcm(0, 1000, -1000), 48_000, 1))
    chunk = response.audio_chunk
    assert (chunk.dtype, chunk.sample_rate, chunk.channels) == ("int16", 48_000, 1)
    assert list(chunk.shape) == [3] == [len(chunk.audio_data) // 2]
