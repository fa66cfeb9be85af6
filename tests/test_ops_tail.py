"""`nexy-stream tail` run as a user runs it, against the real server."""

from __future__ import annotations

import json
import re
from io import StringIO

import anyio
import grpc
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from nexy_stream._proto.nexy.admin.v1 import admin_pb2 as apb
from nexy_stream.cli.board import Board
from nexy_stream.cli.tail import REDRAW, Printer
from tests.cli import Terminal, ctrl_c, read_all, start_cli
from tests.ops_client import committed_session

pytestmark = pytest.mark.anyio


async def tail(*args: str) -> Process:
    return await start_cli("tail", "--duration", "60", *args)


async def test_tail_json_prints_one_parsable_object_per_event(server, channel):
    process = await tail("--target", server.target, "--json", "--count", "5", "--device-id", "d-7")
    async with process:
        assert process.stdout is not None
        lines = BufferedByteReceiveStream(process.stdout)
        with anyio.fail_after(30):
            first = json.loads(await lines.receive_until(b"\n", 1 << 20))
            assert "snapshot" in first  # watching: now run what it should see
            await committed_session(channel, "device-other")
            await committed_session(channel, "d-7")
            rest = [json.loads(line) for line in (await read_all(lines)).splitlines()]
            assert await process.wait() == 0
    sessions = [line["session"] for line in rest if "session" in line]
    assert [next(k for k in s if k in CHANGES) for s in sessions] == list(CHANGES)
    assert {s["device_id"] for s in sessions} == {"d-7"}
    assert sessions[-1]["ended"]["outcome"] == "OUTCOME_COMMITTED"
    assert sessions[-1]["protocol"] == "PROTOCOL_STREAM"


CHANGES = ("opened", "collected", "committed", "first_output", "ended")


async def test_ctrl_c_stops_tail_quietly_with_0(server):
    done = await ctrl_c("tail", "--target", server.target, "--json", once=b"\n")
    assert (done.code, done.err) == (0, "")
    assert "snapshot" in json.loads(done.out.splitlines()[0])


async def test_tail_says_so_when_the_server_goes_away(start):
    server = await start()
    process = await tail("--target", server.target)  # the table, not a terminal here
    async with process:
        assert process.stdout is not None and process.stderr is not None
        with anyio.fail_after(30):
            frame = await BufferedByteReceiveStream(process.stdout).receive_until(b"\n\n", 1 << 20)
            assert b"nexy-stream tail" in frame
            assert b"\x1b" not in frame  # not a terminal: no escape codes, a plain table
            await server.stop(0)
            assert await process.wait() == 1
            said = (await read_all(BufferedByteReceiveStream(process.stderr))).strip()
    assert said.startswith(f"nexy-stream tail: lost the feed of {server.target}: UNAVAILABLE")
    assert "stopping" in said


async def test_tail_says_so_when_there_is_no_server():
    process = await tail("--target", "127.0.0.1:1", "--json")
    async with process:
        assert process.stderr is not None
        with anyio.fail_after(30):
            assert await process.wait() == 1
            said = await read_all(BufferedByteReceiveStream(process.stderr))
    assert said.startswith("nexy-stream tail: cannot watch 127.0.0.1:1: UNAVAILABLE")


def test_the_board_shows_live_sessions_recent_ends_and_percentiles():
    board = Board(["here:1"])
    snapshot = apb.WatchEvent(
        snapshot=apb.Snapshot(
            sessions=[
                apb.LiveSession(
                    session_id="aaaaaaaa-0000",
                    device_id="laptop-1",
                    protocol=apb.PROTOCOL_LEGACY,
                    phase=apb.PHASE_COLLECTING,
                    applied_chunks=3,
                )
            ],
            matching=1,
        )
    )
    ended = apb.WatchEvent(
        session=apb.SessionEvent(
            session_id="aaaaaaaa-0000",
            device_id="laptop-1",
            protocol=apb.PROTOCOL_LEGACY,
            ended=apb.Ended(outcome=apb.OUTCOME_TIMED_OUT, applied_chunks=3),
        )
    )
    aggregate = apb.WatchEvent(aggregate=apb.Aggregate(started_per_second=2.5))
    aggregate.aggregate.commit_to_first_output.samples = 4
    aggregate.aggregate.commit_to_first_output.p50.FromMilliseconds(12)
    board.apply(snapshot)
    assert "laptop-1" in board.render() and "collecting" in board.render()
    board.apply(ended)
    board.apply(aggregate)
    shown = board.render()
    assert "LIVE SESSIONS (0)" in shown
    assert "timed_out" in shown and "aaaaaaaa" in shown
    assert "started 2.5/s" in shown and "12.0ms" in shown


def test_the_board_shows_a_session_waiting_for_a_resume_until_it_is_resumed():
    board = Board(["here:1"])
    sid = "cccccccc-0000"

    def change(**kind: object) -> apb.WatchEvent:
        return apb.WatchEvent(
            session=apb.SessionEvent(
                session_id=sid, device_id="laptop-3", protocol=apb.PROTOCOL_STREAM, **kind
            )
        )

    def stream_of_row() -> str:
        (row,) = [line for line in board.render().splitlines() if "cccccccc" in line]
        return row.split()[-1]

    board.apply(change(opened=apb.Opened()))
    assert stream_of_row() == "up"
    board.apply(change(stream_lost=apb.StreamLost()))
    board.apply(apb.WatchEvent(aggregate=apb.Aggregate(awaiting_resume=1)))
    assert stream_of_row() == "lost"
    assert "awaiting resume 1" in board.render()
    board.apply(change(resumed=apb.Resumed(highest_applied_seq=2)))
    aggregate = apb.WatchEvent(aggregate=apb.Aggregate(resumed=1))
    aggregate.aggregate.interval.FromSeconds(1)
    board.apply(aggregate)
    assert stream_of_row() == "up"
    assert "awaiting resume" not in board.render() and "resumed 1.0/s" in board.render()


def test_the_table_is_redrawn_in_place_only_in_a_terminal():
    aggregate = apb.WatchEvent(aggregate=apb.Aggregate())
    terminal, log = Terminal(), StringIO()
    for out in (terminal, log):
        printer = Printer(out, as_json=False, targets=["here:1"], count=None)
        printer.show(aggregate, 0)
        printer.show(aggregate, 0)
    assert terminal.getvalue().count(REDRAW) == 2
    assert "\x1b" not in log.getvalue() and log.getvalue().count("nexy-stream tail") == 2


def test_the_board_shows_where_time_went_and_what_became_of_preparations():
    board = Board(["here:1"])
    ended = apb.WatchEvent(
        session=apb.SessionEvent(
            session_id="bbbbbbbb-0000",
            device_id="laptop-2",
            protocol=apb.PROTOCOL_STREAM,
            ended=apb.Ended(outcome=apb.OUTCOME_COMMITTED, applied_chunks=2, output_frames=5),
        )
    )
    timings = ended.session.ended.timings
    timings.commit_to_first_text.FromMilliseconds(3)
    timings.commit_to_first_audio.FromMilliseconds(40)
    timings.llm_first_token.FromMilliseconds(300)
    timings.tts_first_byte.FromMilliseconds(25)
    timings.prepared = True
    aggregate = apb.WatchEvent(aggregate=apb.Aggregate())
    prepared = aggregate.aggregate.preparations
    prepared.started, prepared.adopted = 3, 1
    prepared.discarded.add(reason=apb.DISCARD_REVISED, preparations=2)
    aggregate.aggregate.llm_first_token.samples = 1
    aggregate.aggregate.llm_first_token.p50.FromMilliseconds(300)
    board.apply(ended)
    board.apply(aggregate)
    shown = board.render()
    (row,) = [line for line in shown.splitlines() if "bbbbbbbb" in line]
    assert row.split()[6:11] == ["3.0ms", "40.0ms", "300.0ms", "25.0ms", "yes"]
    assert "prepared  started 3  adopted 1  discarded 2 (revised 2)" in shown
    assert re.search(r"LLM first token\s+300.0ms", shown)


async def test_tail_follows_several_servers_as_one_feed(start):
    first, second = await start(), await start()
    targets = [first.target, second.target]
    args = ("--target", first.target, "--target", second.target, "--json", "--count", "10")
    process = await tail(*args)
    async with process:
        assert process.stdout is not None
        lines = BufferedByteReceiveStream(process.stdout)
        with anyio.fail_after(30):
            snapshots = [json.loads(await lines.receive_until(b"\n", 1 << 20)) for _ in targets]
            assert sorted(s["target"] for s in snapshots) == sorted(targets)
            for server in (first, second):
                async with grpc.aio.insecure_channel(server.target) as channel:
                    await committed_session(channel, f"on-{server.port}")
            rest = [json.loads(line) for line in (await read_all(lines)).splitlines()]
            assert await process.wait() == 0
    ended = {line["target"]: line["session"] for line in rest if "ended" in line.get("session", {})}
    assert ended.keys() == set(targets)
    for server in (first, second):
        assert ended[server.target]["device_id"] == f"on-{server.port}"


def test_a_board_of_several_sources_adds_up_counts_and_keeps_percentiles_apart():
    board = Board(["here:1", "there:2"])
    for source, (rate, p50_ms) in enumerate([(2.0, 12), (3.0, 40)]):
        aggregate = apb.WatchEvent(aggregate=apb.Aggregate(started_per_second=rate))
        aggregate.aggregate.live.add(
            phase=apb.PHASE_COLLECTING, protocol=apb.PROTOCOL_STREAM, sessions=source + 1
        )
        aggregate.aggregate.commit_to_first_output.samples = 4
        aggregate.aggregate.commit_to_first_output.p50.FromMilliseconds(p50_ms)
        aggregate.aggregate.preparations.started = source + 1
        aggregate.aggregate.preparations.discarded.add(
            reason=apb.DISCARD_REVISED, preparations=source + 1
        )
        board.apply(aggregate, source)
    opened = apb.SessionEvent(session_id="bbbbbbbb-1", device_id="kiosk", opened=apb.Opened())
    board.apply(apb.WatchEvent(session=opened), 1)
    shown = board.render()
    assert "[1] here:1  [2] there:2" in shown
    assert "collecting 3" in shown and "started 5.0/s" in shown
    assert "prepared  started 3  adopted 0  discarded 3 (revised 3)" in shown
    assert re.search(r"commit -> first output \[1\]\s+12\.0ms", shown)
    assert re.search(r"commit -> first output \[2\]\s+40\.0ms", shown)
    assert re.search(r"\[2\]\s+bbbbbbbb\s+kiosk", shown)
