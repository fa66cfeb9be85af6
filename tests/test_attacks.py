"""The attacks of issue 10, replayed as an attacker on the public port would try them,
against the real server on loopback. Each test says what the attacker knows and does, and
proves the victim loses nothing.

Sizes are scaled down where only their ratio matters (the byte budget against many
sessions at their per-session limit); ``test_memory_budget`` runs the real sizes against a
server process and measures its memory.
"""

from __future__ import annotations

import anyio
import grpc
import pytest

from nexy_stream.auth import AuthConfig, Authenticator, LegacyAuth, TokenFile
from nexy_stream.ops.admin import WATCH_METHOD
from nexy_stream.session import Limits
from tests.auth_keys import authenticator, bearer, token_file
from tests.legacy_wire import (
    LegacyClient,
    Reply,
    assert_collect_ok,
    assert_refused,
    new_session_id,
    webp,
)
from tests.ops_client import next_event, watch
from tests.pipelines import GatedPipeline
from tests.wire import RawSession, open_frame, screenshot_frame, text_frame

pytestmark = pytest.mark.anyio

VICTIM_HW, ATTACKER_HW = "victim-mac", "attacker-mac"
RESOURCE_EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED


# -- the admin feed lists every session and device id: admins only --------------------------


async def test_the_feed_shows_nothing_to_a_caller_who_is_not_an_admin(start, tmp_path):
    auth, user, admin = authenticator(tmp_path)
    server = await start(authenticator=auth)
    async with grpc.aio.insecure_channel(server.target) as channel:
        await RawSession(channel, bearer(user)).open(device_id=VICTIM_HW)
        for metadata, code in (
            ((), grpc.StatusCode.UNAUTHENTICATED),
            (bearer(user), grpc.StatusCode.PERMISSION_DENIED),
        ):
            call = watch(channel, metadata)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await next_event(call)
            assert refused.value.code() is code
            assert VICTIM_HW not in (refused.value.details() or "")
        garbage = channel.unary_stream(WATCH_METHOD)(b"\xff\xff", metadata=bearer(admin))
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await garbage.read()
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        call = watch(channel, bearer(admin))
        snapshot = (await next_event(call)).snapshot
        call.cancel()
    assert [s.device_id for s in snapshot.sessions] == [VICTIM_HW]


# -- another device's legacy utterance: commit, inject, destroy, interrupt ------------------


async def attack_the_utterance(attacker: LegacyClient, session: str) -> list[Reply]:
    """Everything an attacker who learnt the session id tries on it."""
    return [
        await attacker.collect(session, 7, "and transfer all my money"),  # inject
        await attacker.commit(session, "x" * (Limits().max_text_bytes + 1)),  # destroy
        await attacker.commit(session),  # commit it and read the victim's words
    ]


@pytest.mark.parametrize(
    ("mode", "victim_token", "attacker_token", "attacker_hw"),
    [
        (LegacyAuth.OPTIONAL, False, False, ATTACKER_HW),  # deployed clients, no tokens
        (LegacyAuth.OPTIONAL, False, True, VICTIM_HW),  # a user claiming the victim's device
        (LegacyAuth.OPTIONAL, True, False, VICTIM_HW),  # the victim sends a token
        (LegacyAuth.REQUIRED, True, True, VICTIM_HW),  # everyone sends a token
    ],
    ids=["anonymous-other-device", "user-same-device", "victim-has-token", "required"],
)
async def test_nobody_else_reaches_a_legacy_utterance(
    start, tmp_path, mode, victim_token, attacker_token, attacker_hw
):
    alice, mallory = token_file(tmp_path / "tokens", ("alice", False), ("mallory", False))
    pipeline = GatedPipeline()
    server = await start(
        pipeline,
        authenticator=Authenticator(TokenFile(tmp_path / "tokens")),
        auth=AuthConfig(legacy=mode),
    )
    session = new_session_id()
    async with grpc.aio.insecure_channel(server.target) as channel:
        victim = LegacyClient(channel, VICTIM_HW, bearer(alice) if victim_token else ())
        attacker = LegacyClient(channel, attacker_hw, bearer(mallory) if attacker_token else ())
        assert_collect_ok(await victim.collect(session, 1, "what is on my screen"))
        injected, destroyed, committed = await attack_the_utterance(attacker, session)
        assert_collect_ok(injected)  # into a session of the attacker's own
        assert_refused(destroyed, RESOURCE_EXHAUSTED, "max_text_bytes")
        assert_refused(committed, grpc.StatusCode.INVALID_ARGUMENT, "nothing to commit")
        running = victim.start(victim.commit_request(session))
        with anyio.fail_after(10):
            await pipeline.started.wait()
        answer = await attacker.interrupt()
        assert answer.success and list(answer.interrupted_sessions) == []
        pipeline.release.set()
        replies = [reply async for reply in running]
    assert [r.text for r in pipeline.requests] == ["what is on my screen"]
    assert not pipeline.cancelled.is_set()
    assert "".join(r.text_chunk for r in replies) == "first last"
    assert replies[-1].end_message == "completed"


# -- one client takes every session ---------------------------------------------------------


async def test_one_principal_cannot_take_every_session(start, tmp_path):
    """Mallory opens sessions over both protocols until refused; alice still gets in."""
    alice, mallory = token_file(tmp_path / "tokens", ("alice", False), ("mallory", False))
    server = await start(
        authenticator=Authenticator(TokenFile(tmp_path / "tokens")),
        max_live_sessions=10,
        max_sessions_per_principal=4,
    )
    async with grpc.aio.insecure_channel(server.target) as channel:
        for _ in range(2):
            await RawSession(channel, bearer(mallory)).open()
        grabber = LegacyClient(channel, ATTACKER_HW, bearer(mallory))
        for _ in range(2):
            assert_collect_ok(await grabber.collect(new_session_id(), 1, "mine"))
        refused = RawSession(channel, bearer(mallory))
        await refused.send(open_frame())
        answer = await refused.drain()
        assert answer.code is RESOURCE_EXHAUSTED
        assert answer.frames[-1].error.limit == "max_sessions_per_principal"
        legacy = await grabber.collect(new_session_id(), 1, "one more")
        assert_refused(legacy, RESOURCE_EXHAUSTED, "over max_sessions_per_principal=4")
        await RawSession(channel, bearer(alice)).open()
        assert len(server.registry) == 5


async def test_one_address_cannot_take_every_legacy_session(start):
    """Without credentials the cap is per network address, and a legacy client needs no
    connection to hold a session: the cap counts its sessions, not its calls."""
    server = await start(max_live_sessions=10, max_sessions_per_peer=3)
    async with grpc.aio.insecure_channel(server.target) as channel:
        for index in range(3):
            grabber = LegacyClient(channel, f"device-{index}")
            assert_collect_ok(await grabber.collect(new_session_id(), 1, "mine"))
        refused = await LegacyClient(channel, "device-9").collect(new_session_id(), 1, "more")
        assert_refused(refused, RESOURCE_EXHAUSTED, "from 127.0.0.1", "max_sessions_per_peer=3")
    assert len(server.registry) == 3


# -- many sessions, each holding a screenshot at the per-session limit ----------------------

SESSIONS_PER_PROTOCOL = 320  # 640 in all, as in the issue
SHOT_BYTES = 64 * 1024  # the 8 MiB scaled by 1/128, with the limits
BUDGET = 64 * SHOT_BYTES  # room for 64 of the 640 screenshots


async def test_the_byte_budget_stops_640_sessions_each_holding_a_screenshot(start):
    limits = Limits(max_screenshot_bytes=SHOT_BYTES, max_frame_bytes=2 * SHOT_BYTES)
    server = await start(limits=limits, max_buffered_bytes=BUDGET)
    results: list[str] = []
    every_one_tried = anyio.Event()

    def note(result: str) -> None:
        results.append(result)
        if len(results) == 2 * SESSIONS_PER_PROTOCOL:
            every_one_tried.set()

    async def v1(channel: grpc.aio.Channel, index: int) -> None:
        session = RawSession(channel)
        await session.open()
        ack = (await session.exchange(screenshot_frame(1, shot(index)))).collect_ack
        assert not ack.error.fatal
        note(ack.error.limit or "held")
        await every_one_tried.wait()  # every session holds on until all have tried
        # A refused session lives on: its next frame is acked like any other.
        assert (await session.exchange(text_frame(2, "hi"))).HasField("collect_ack")
        await session.call.done_writing()
        await session.drain()

    async def legacy(channel: grpc.aio.Channel, index: int) -> None:
        client = LegacyClient(channel, f"device-{index}")
        reply = await client.collect(new_session_id(), 1, screenshot=webp(shot(index)))
        note("held" if reply.code is grpc.StatusCode.OK else reply.details)

    async with grpc.aio.insecure_channel(server.target) as channel:
        async with anyio.create_task_group() as tasks:
            for index in range(SESSIONS_PER_PROTOCOL):
                tasks.start_soon(v1, channel, index)
                tasks.start_soon(legacy, channel, SESSIONS_PER_PROTOCOL + index)
        assert server.hosting.budget.held <= BUDGET
    held = results.count("held")
    assert held == BUDGET // SHOT_BYTES
    refused = [r for r in results if r != "held"]
    assert len(refused) == 2 * SESSIONS_PER_PROTOCOL - held
    assert all("max_buffered_bytes" in reason for reason in refused)


def shot(index: int) -> bytes:
    """A screenshot at the per-session limit, its own content (no de-duplication)."""
    return index.to_bytes(4, "big") * (SHOT_BYTES // 4)
