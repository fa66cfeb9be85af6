"""Where an answer's time went, through every layer: the `openai` pipeline against the
local stub on a real server, then what End.timings, the SDK's Ended, the admin feed, the
metrics, the session-end log and `say` report of it.

The stub waits a known time before the first token and the first byte of speech, so every
figure has a lower bound that holds however busy the machine is; no upper bound is checked.
"""

from __future__ import annotations

import io
import logging

import anyio
import grpc
import pytest
from google.protobuf.duration_pb2 import Duration

from nexy_stream._proto.nexy.admin.v1 import admin_pb2 as apb
from nexy_stream.app.server import RunningServer
from nexy_stream.cli.say import Request, say
from nexy_stream.client import Client, Ended
from nexy_stream.logformat import FIELDS
from nexy_stream.ops.config import OpsConfig
from nexy_stream.session import Stage
from tests.openai_stub import OpenAIStub
from tests.ops_client import next_event, scrape, session_events, value, watch
from tests.waiting import until

pytestmark = pytest.mark.anyio

WAITED_S = 0.05  # the stub's wait before its first token, and before its first speech byte
SETTLE_S = 10.0  # bound for what the server records once the client has its end


@pytest.fixture
def slow_stub(stub: OpenAIStub) -> OpenAIStub:
    stub.behaviour.first_token_delay_s = WAITED_S
    stub.behaviour.speech_first_byte_delay_s = WAITED_S
    return stub


async def ask(server: RunningServer) -> Ended:
    async with Client(server.target) as client, client.session(device_id="dev-timed") as s:
        await s.interim("what is on")
        await s.commit("what is on my screen")
        ended = [event async for event in s if isinstance(event, Ended)]
    assert len(ended) == 1
    return ended[0]


async def test_end_timings_and_the_sdk_report_each_stage(serve_openai, slow_stub):
    ended = await ask(await serve_openai())
    server, client = ended.timings, ended.measured
    assert server.llm_first_token is not None and server.llm_first_token >= WAITED_S
    assert server.tts_first_byte is not None and server.tts_first_byte >= WAITED_S
    assert server.commit_to_first_text is not None and server.commit_to_first_text >= WAITED_S
    assert server.commit_to_first_audio is not None
    # The first sentence is spoken once its text is written: after the first token.
    assert server.commit_to_first_audio >= server.commit_to_first_text + WAITED_S
    assert server.commit_to_first_output == server.commit_to_first_text
    assert client.commit_to_first_text is not None and client.commit_to_first_audio is not None
    assert client.commit_to_first_audio > client.commit_to_first_text >= WAITED_S
    assert client.llm_first_token is None  # a stage is the pipeline's to measure


async def test_metrics_and_the_session_end_log_carry_each_figure(serve_openai, slow_stub, caplog):
    caplog.set_level(logging.INFO, logger="nexy_stream.sessions")
    server = await serve_openai({"ops": OpsConfig(metrics_port=0)})
    port = server.ops.metrics_port
    assert port is not None
    await ask(server)

    def ended() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "nexy_stream.sessions"]

    await until(lambda: bool(ended()), "the session's end is logged")  # metrics: just after
    line = getattr(ended()[0], FIELDS)
    for name in ("first_output_s", "first_text_s", "first_audio_s", "pipeline_s"):
        assert isinstance(line[name], float)
    assert isinstance(line["llm_first_token_s"], float) and line["llm_first_token_s"] >= WAITED_S
    assert isinstance(line["tts_first_byte_s"], float) and line["tts_first_byte_s"] >= WAITED_S

    samples = await scrape(port)
    for name in ("nexy_commit_to_first_text_seconds", "nexy_commit_to_first_audio_seconds"):
        assert value(samples, f"{name}_count", protocol="stream") == 1
        assert value(samples, f"{name}_sum", protocol="stream") >= WAITED_S
    for stage in Stage:
        labels = {"stage": stage.value}
        assert value(samples, "nexy_pipeline_stage_seconds_count", **labels) == 1
        assert value(samples, "nexy_pipeline_stage_seconds_sum", **labels) >= WAITED_S
        # Nothing faster than the stub's wait: the smallest bucket that holds it is empty.
        assert value(samples, "nexy_pipeline_stage_seconds_bucket", le="0.025", **labels) == 0


async def test_the_feed_shows_each_figure_of_an_ended_session(serve_openai, slow_stub):
    server = await serve_openai()
    async with grpc.aio.insecure_channel(server.target) as channel:
        call = watch(channel, aggregate_interval=Duration(nanos=100_000_000))
        try:
            assert (await next_event(call)).WhichOneof("kind") == "snapshot"
            await ask(server)
            ended = await next_ended(call)
            for field in ("commit_to_first_text", "commit_to_first_audio", "llm_first_token"):
                assert ended.timings.HasField(field), field
            assert ended.timings.tts_first_byte.ToNanoseconds() >= WAITED_S * 1e9
            aggregate = await next_aggregate_with_stages(call)
            assert aggregate.commit_to_first_audio.HasField("p50")
            assert aggregate.tts_first_byte.p50.ToNanoseconds() >= WAITED_S * 1e9
        finally:
            call.cancel()


async def next_ended(call: grpc.aio.UnaryStreamCall) -> apb.Ended:
    """The next session's end in the feed (bounded: the feed must bring it)."""
    with anyio.fail_after(SETTLE_S):
        while not (event := (await session_events(call, 1))[0]).HasField("ended"):
            pass
    return event.ended


async def next_aggregate_with_stages(call: grpc.aio.UnaryStreamCall) -> apb.Aggregate:
    """The next aggregate that has stage timings (bounded, like :func:`next_ended`)."""
    with anyio.fail_after(SETTLE_S):
        while True:
            event = await next_event(call)
            if event.HasField("aggregate") and event.aggregate.llm_first_token.samples:
                return event.aggregate


async def test_say_reports_where_the_time_went(serve_openai, slow_stub):
    server = await serve_openai()
    out = io.StringIO()
    request = Request("what is on my screen", "dev-say", None, True, 0.0)
    await say(request, Client(server.target), out)
    report = out.getvalue()
    for label in ("commit -> first text", "commit -> first audio"):
        assert f"  {label}" in report and "client" in report.split(label)[1].split("\n")[0]
    for label in ("LLM first token", "TTS first byte"):
        (line,) = [line for line in report.splitlines() if label in line]
        assert "pipeline" in line and "ms" in line
