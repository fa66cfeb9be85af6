"""Whatever the interleaving of interims, stable hints, time passing and the commit, the
client of a speculating server sees exactly the output of one run of its committed request.

Hypothesis plays whole sessions against one real server (its clock a ManualClock, moved by
the examples): interims that change or repeat (some spelled otherwise, which normalise the
same), screenshots, the server's clock moved past the moment a text is prepared or not,
the server left to run a little or not at all, then a commit of the last interim, of a
spelling of it, of something else, or of the buffer. The pipeline's answers say which run
they came from (tests/pipelines.py, PreparingEcho), so the answer shows whether it was one
run, of which request, and whether any other run did its side effect.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import grpc
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexy_stream._proto.nexy.stream.v1 import session_pb2 as pb
from nexy_stream.app.config import ServerConfig
from nexy_stream.app.server import RunningServer, start_server
from nexy_stream.session import Limits, Speculation
from tests.clock import ManualClock
from tests.pipelines import PreparingEcho
from tests.test_speculation import assert_one_run_of_the_commit, stable_frame
from tests.waiting import until
from tests.wire import Answer, RawSession, commit_frame, screenshot_frame, text_frame

TEXTS = ["what is", "what is on my screen", "What is on my screen?", "what is on my desk"]
SHOTS = [b"first screen", b"second screen"]
WAIT_S = 10

steps = st.lists(
    st.one_of(
        st.tuples(st.just("say"), st.sampled_from(TEXTS), st.booleans()),  # (text, stable)
        st.tuples(st.just("show"), st.sampled_from(SHOTS)),
        st.tuples(st.just("clock"), st.sampled_from([0.1, 0.3, 0.5])),  # the server's clock
        st.tuples(st.just("pause"), st.sampled_from([0.0, 0.005, 0.02])),  # real time
    ),
    max_size=8,
)
commits = st.tuples(
    st.sampled_from(["buffer", "last", "spelled otherwise", "other"]),
    st.none() | st.sampled_from(SHOTS),
)


@dataclass
class Served:
    portal: BlockingPortal
    server: RunningServer
    clock: ManualClock
    pipeline: PreparingEcho
    channel: grpc.aio.Channel


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with start_blocking_portal(backend="asyncio") as portal:
        clock, pipeline = ManualClock(), PreparingEcho(word_delay_s=0.002)
        config = ServerConfig(
            host="127.0.0.1",
            port=0,
            limits=Limits(resume_ttl_s=0),  # no answer lingers: every byte goes back at the end
            speculation=Speculation(after_s=0.3, max_per_session=3),
        )
        server = portal.call(start_server, config, pipeline, (), (), clock)

        async def open_channel() -> grpc.aio.Channel:
            return grpc.aio.insecure_channel(server.target)

        channel = portal.call(open_channel)
        yield Served(portal, server, clock, pipeline, channel)
        portal.call(channel.close)
        portal.call(server.stop, 0)


async def play(served: Served, script: list[tuple[Any, ...]], commit: tuple[str, Any]) -> Answer:
    with anyio.fail_after(WAIT_S):  # bounded: a stuck session fails its example
        return await play_session(served, script, commit)


async def play_session(
    served: Served, script: list[tuple[Any, ...]], commit: tuple[str, Any]
) -> Answer:
    session = RawSession(served.channel)
    await session.open()
    seq, last, said = 0, "hello", False
    for step in script:
        match step:
            case ("say", text, stable):
                seq, last, said = seq + 1, text, True
                await session.exchange(stable_frame(seq, text) if stable else text_frame(seq, text))
            case ("show", data):
                seq += 1
                await session.exchange(screenshot_frame(seq, data))
            case ("clock", seconds):
                served.clock.advance(seconds)
            case ("pause", seconds):
                await anyio.sleep(seconds)
    how, shot = commit
    final = {
        "buffer": None if said else last,
        "last": last,
        "spelled otherwise": last.upper() + "!",
        "other": last + " please",
    }[how]
    frame = commit_frame(final)
    if shot is not None:
        frame.commit.screenshot.CopyFrom(pb.Screenshot(data=shot, mime_type="image/webp"))
    await session.send(frame)
    return await session.drain()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=steps, commit=commits)
def test_the_client_sees_one_run_of_its_committed_request(served, script, commit):
    answer = served.portal.call(play, served, script, commit)
    run = assert_one_run_of_the_commit(served.pipeline, answer)
    runs = served.pipeline.of(run.session_id)
    served.portal.call(until, lambda: all(r.ended for r in runs), "every run of it ended")
    budget = served.server.hosting.budget
    served.portal.call(until, lambda: budget.held == 0, "every byte held given back")
    assert [r for r in runs if r.effected] == [run]  # no other run did anything
    assert sum(r.prepared for r in runs) <= 3  # --speculate-max
