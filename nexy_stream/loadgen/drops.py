"""Sessions whose stream is dropped on the way and resumed on a new one (``--drop-rate``).

A dropped session plays in lockstep (each frame, then its answer) so that the drop comes at
a known point: after a collect frame is acknowledged, right after the commit is accepted, or
after some outputs of the answer. The call is then cancelled, which the server sees as a
lost connection (an end of stream, then the call's cancellation), and the session goes on
on a new call with ``resume``. Every promise the plain driver checks still holds, and the
resume keeps its own: the server's highest applied seq is the one the client saw acked, a
commit that arrived is said to have arrived (with the text the model predicts), and the
outputs go on from the one after the last received, each exactly once.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import grpc

from nexy_stream._proto.nexy.stream.v1 import session_pb2 as pb
from nexy_stream._proto.nexy.stream.v1 import session_pb2_grpc as rpc
from nexy_stream.client.channel import CallMetadata, session_metadata
from nexy_stream.loadgen import codec
from nexy_stream.loadgen.driver import Play, SessionRecord, check, next_frame, open_play
from nexy_stream.loadgen.utterances import Ending, Utterance


@dataclass(frozen=True, slots=True)
class Drop:
    """Where a session's stream is dropped: after the ack of its ``after``-th collect frame
    (``collect``), once its commit is accepted (``commit``), or after ``after`` outputs
    (``answer``)."""

    phase: str
    after: int = 0


def choose_drop(rng: random.Random, utterance: Utterance) -> Drop:
    """A drop point the utterance reaches (it commits)."""
    phases = ["commit", "answer", *(["collect"] if utterance.chunks else [])]
    phase = rng.choice(phases)
    if phase == "collect":
        return Drop(phase, rng.randrange(len(utterance.chunks)))
    return Drop(phase, rng.randrange(3) if phase == "answer" else 0)


def droppable(utterance: Utterance) -> bool:
    """Only an utterance that commits and reads its answer to the end is dropped: what
    it must see at the end is then known whatever the drop."""
    return utterance.ending is Ending.COMMIT


async def drive_dropping(
    stub: rpc.SessionServiceStub,
    session_id: str,
    utterance: Utterance,
    drop: Drop,
    pace: float = 0.0,
    metadata: CallMetadata = (),
) -> SessionRecord:
    """Plays ``utterance`` in lockstep, dropping and resuming its stream at ``drop``."""
    record, play = await open_play(stub, session_id, utterance, metadata)
    if play is None:
        return record
    resume = _Resumer(stub, (*metadata, *session_metadata(session_id)), play)
    with anyio.CancelScope() as lost:  # the stream ended where it should not have
        try:
            await _play(play, drop, resume, lost, pace)
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
            # A write the end of the stream beat: what the server said comes next.
            await _until(play, lost, lambda: record.last_frame is not None)
    if lost.cancel_called:
        record.violated(f"the stream ended before its end, resumed {record.resumptions} times")
    check(record)
    return record


async def _play(
    play: Play, drop: Drop, resume: _Resumer, lost: anyio.CancelScope, pace: float
) -> None:
    record, utterance = play.record, play.utterance
    for index, chunk in enumerate(utterance.chunks):
        if pace and chunk.gap_s:
            await anyio.sleep(chunk.gap_s * pace)
        await play.send_collect(chunk)
        await _until(play, lost, lambda: record.acks == record.collects_sent)
        if drop == Drop("collect", index):
            await resume()
    await play.send_commit()
    await _until(play, lost, lambda: record.commits_accepted > 0 or bool(record.rejections))
    if drop.phase == "commit":
        await resume()
    await play.call.done_writing()
    await _until(play, lost, lambda: record.output_frames >= drop.after or bool(record.last_frame))
    if drop.phase == "answer" and not record.last_frame:
        await resume()
        await play.call.done_writing()
    await _until(play, lost, lambda: record.last_frame is not None)


class _Resumer:
    """Drops the session's stream and resumes it on a new call, checking the answer."""

    def __init__(self, stub: rpc.SessionServiceStub, metadata: CallMetadata, play: Play) -> None:
        self._stub, self._metadata, self._play = stub, metadata, play

    async def __call__(self) -> None:
        play, record = self._play, self._play.record
        play.call.cancel()  # what a lost connection looks like to the server
        call = self._stub.Session(metadata=self._metadata)
        last = record.output_frames
        await call.write(codec.resume_frame(record.session_id, play.resume_token, last))
        reply = await next_frame(call)
        play.attach(call)
        record.resumptions += 1
        if reply is None or reply.WhichOneof("kind") != "resumed":
            record.violated(f"resume answered {reply}".strip())
            if reply is not None:
                play.take(reply)
            return
        resumed = reply.resumed
        if resumed.highest_applied_seq != play.model.highest_applied_seq:
            record.violated(
                f"resumed at highest_applied_seq {resumed.highest_applied_seq}, the acks said "
                f"{play.model.highest_applied_seq}"
            )
        if resumed.next_output_index != last + 1:
            record.violated(f"resumed at output {resumed.next_output_index}, expected {last + 1}")
        if resumed.HasField("committed"):
            if not record.commits_accepted:  # it arrived; its commit_accepted did not
                play.take(pb.ServerFrame(commit_accepted=resumed.committed))
            elif resumed.committed.text != record.committed_text:
                record.violated(f"resumed with commit {resumed.committed.text!r}")
        elif record.expected_text is not None and record.commits_accepted:
            record.violated("resumed without the commit that was accepted")


async def _until(play: Play, lost: anyio.CancelScope, done: Callable[[], bool]) -> None:
    """Reads frames until ``done()``; a stream that ends first cancels ``lost``."""
    while not done():
        frame = await play.next()
        if frame is None:
            lost.cancel()
            await anyio.lowlevel.checkpoint()
            return
        play.take(frame)
