"""The client side of the benchmarks, run as a process of its own; prints one JSON object.

``python -m bench.clients MODE --target HOST:PORT [...]``, MODE one of frames, sessions, legacy,
speech, latency, idle, first-audio, spoken;
``python -m bench.clients direct-audio --target http://HOST:PORT/v1`` (an OpenAI-compatible API)

The same client code drives nexy-stream and the bare server, so the ratios compare servers.
It is kept cheap (frames built once per sequence number, replies counted, not parsed, where
their content does not matter) so that the server, not the client, is what saturates.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import grpc

from nexy_stream._proto import streaming_pb2 as legacy_pb
from nexy_stream._proto.nexy.stream.v1 import session_pb2 as pb
from nexy_stream.legacy.servicer import LEGACY_SERVICE
from nexy_stream.loadgen.stats import latency_ms
from nexy_stream.pipeline.openai_compat.sentences import SentenceSplitter
from nexy_stream.server.service import SESSION_SERVICE

SESSION_METHOD = f"/{SESSION_SERVICE}/Session"
LEGACY_METHOD = f"/{LEGACY_SERVICE}/StreamAudio"
WORDS = ["open", "safari", "and", "search", "for", "the", "weather", "in", "zurich", "tomorrow"]
# Many streams go over a few connections, as behind a load balancer; one connection would
# make HTTP/2 framing of a single socket the bottleneck.
STREAMS_PER_CHANNEL = 500
CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]


def open_frame() -> bytes:
    frame = pb.ClientFrame(open=pb.Open(session_id=str(uuid.uuid4()), device_id="bench"))
    return frame.SerializeToString()


def collect_frame(seq: int) -> bytes:
    text = pb.Text(text=" ".join(WORDS[: 1 + seq % len(WORDS)]))
    return pb.ClientFrame(collect=pb.Collect(chunk_seq=seq, text=text)).SerializeToString()


COMMIT_FRAME = pb.ClientFrame(commit=pb.Commit()).SerializeToString()
CANCEL_FRAME = pb.ClientFrame(cancel=pb.Cancel()).SerializeToString()
QUESTION_FRAME = pb.ClientFrame(
    commit=pb.Commit(final_text=pb.Text(text="what is on my screen"))
).SerializeToString()


Metadata = tuple[tuple[str, str], ...]


def raw_session(
    channel: grpc.aio.Channel, metadata: Metadata = ()
) -> grpc.aio.StreamStreamCall[bytes, bytes]:
    return channel.stream_stream(SESSION_METHOD)(metadata=metadata)  # bytes in, bytes out


def channels(target: str, streams: int, count: int = 0) -> list[grpc.aio.Channel]:
    """``count`` channels (connections), or one per STREAMS_PER_CHANNEL streams. Several
    workers on one port (SO_REUSEPORT) share connections, not streams: they need several."""
    count = count or max(1, -(-streams // STREAMS_PER_CHANNEL))
    return [grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS) for _ in range(count)]


async def measure_clients(
    target: str,
    streams: int,
    warmup_s: float,
    seconds: float,
    client: Callable[[grpc.aio.Channel], Awaitable[None]],
    count: Callable[[], int],
    connections: int = 0,
) -> float:
    """Runs ``streams`` copies of ``client``, spread over a few channels (``connections``,
    or one per STREAMS_PER_CHANNEL); returns ``count()`` per second over the window that
    follows the warm-up."""
    pool = channels(target, streams, connections)
    async with anyio.create_task_group() as tasks:
        for index in range(streams):
            tasks.start_soon(client, pool[index % len(pool)])
        await anyio.sleep(warmup_s)
        start_count, start = count(), time.perf_counter()
        await anyio.sleep(seconds)
        rate = (count() - start_count) / (time.perf_counter() - start)
        tasks.cancel_scope.cancel()
    for channel in pool:
        await channel.close()
    return rate


async def frames(
    target: str,
    streams: int,
    warmup_s: float,
    seconds: float,
    metadata: Metadata = (),
    connections: int = 0,
) -> dict[str, Any]:
    """Collect frames per second, one ack each, over ``streams`` open sessions."""
    acked = 0

    async def stream(channel: grpc.aio.Channel) -> None:
        nonlocal acked
        call = raw_session(channel, metadata)
        await call.write(open_frame())
        await call.read()

        async def write() -> None:
            seq = 0
            while True:
                seq += 1
                await call.write(collect_frame(seq))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(write)
            while await call.read() is not grpc.aio.EOF:  # type: ignore[attr-defined]
                acked += 1

    window = (target, streams, warmup_s, seconds)
    rate = await measure_clients(*window, stream, lambda: acked, connections)
    return {"frames_per_s": round(rate, 1), "streams": streams, "total": acked}


async def sessions(
    target: str, streams: int, warmup_s: float, seconds: float, metadata: Metadata = ()
) -> dict[str, Any]:
    """Sessions opened per second: each of ``streams`` clients opens a session, waits for it
    to be accepted, cancels it and reads its end, again and again. What a session's open
    costs (with ``metadata`` holding a credential: what checking it costs)."""
    opened = 0

    async def client(channel: grpc.aio.Channel) -> None:
        nonlocal opened
        while True:
            call = raw_session(channel, metadata)
            await call.write(open_frame())
            await call.read()  # accepted
            await call.write(CANCEL_FRAME)
            await call.done_writing()  # as the SDK and the load generator do
            while await call.read() is not grpc.aio.EOF:  # type: ignore[attr-defined]
                pass
            opened += 1

    rate = await measure_clients(target, streams, warmup_s, seconds, client, lambda: opened)
    return {"sessions_per_s": round(rate, 1), "streams": streams, "total": opened}


async def legacy(target: str, streams: int, warmup_s: float, seconds: float) -> dict[str, Any]:
    """Collect frames per second through the legacy endpoint: one StreamAudio call each."""
    answered = 0

    async def client(channel: grpc.aio.Channel) -> None:
        nonlocal answered
        call_audio = channel.unary_stream(
            LEGACY_METHOD,
            request_serializer=legacy_pb.StreamRequest.SerializeToString,
            response_deserializer=None,
        )
        session_id, seq = str(uuid.uuid4()), 0
        while True:
            seq += 1
            request = legacy_pb.StreamRequest(
                hardware_id="bench",
                session_id=session_id,
                phase=legacy_pb.REQUEST_PHASE_COLLECT,
                chunk_seq=seq,
                chunk_text=" ".join(WORDS[: 1 + seq % len(WORDS)]),
            )
            call = call_audio(request)
            while await call.read() is not grpc.aio.EOF:  # type: ignore[attr-defined]
                pass
            answered += 1

    rate = await measure_clients(target, streams, warmup_s, seconds, client, lambda: answered)
    return {"frames_per_s": round(rate, 1), "streams": streams}


async def speech(target: str, streams: int, warmup_s: float, seconds: float) -> dict[str, Any]:
    """Legacy commits answered with speech, back to back on ``streams`` clients: answers per
    second, and the shortest and longest answer in seconds of 48 kHz mono (anything else
    the client could not play counts as ``unplayable``)."""
    answered = unplayable = 0
    lengths: list[float] = []

    async def client(channel: grpc.aio.Channel) -> None:
        nonlocal answered, unplayable
        call_audio = channel.unary_stream(
            LEGACY_METHOD,
            request_serializer=legacy_pb.StreamRequest.SerializeToString,
            response_deserializer=legacy_pb.StreamResponse.FromString,
        )
        while True:
            request = legacy_pb.StreamRequest(
                hardware_id="bench",
                session_id=str(uuid.uuid4()),
                phase=legacy_pb.REQUEST_PHASE_COMMIT,
                prompt="say something",
            )
            call, played = call_audio(request), 0
            while (response := await call.read()) is not grpc.aio.EOF:  # type: ignore[attr-defined]
                if response.HasField("audio_chunk"):
                    chunk = response.audio_chunk
                    unplayable += (chunk.sample_rate, chunk.channels) != (48_000, 1)
                    played += len(chunk.audio_data) // 2
            answered += 1
            lengths.append(played / 48_000)

    rate = await measure_clients(target, streams, warmup_s, seconds, client, lambda: answered)
    return {
        "answers_per_s": round(rate, 1),
        "streams": streams,
        "answer_s_min": round(min(lengths), 4),
        "answer_s_max": round(max(lengths), 4),
        "unplayable_chunks": unplayable,
    }


async def latency(target: str, sessions: int, rounds: int, connections: int = 0) -> dict[str, Any]:
    """Commit -> first output, with ``sessions`` sessions running at once, each committing
    ``rounds`` utterances one after another (open, two collects, commit, read the answer)."""
    samples: list[float] = []
    pool = channels(target, sessions, connections)

    async def utterances(channel: grpc.aio.Channel) -> None:
        for _ in range(rounds):
            call = channel.stream_stream(
                SESSION_METHOD, response_deserializer=pb.ServerFrame.FromString
            )()
            await call.write(open_frame())
            await call.read()
            for seq in (1, 2):
                await call.write(collect_frame(seq))
                await call.read()
            committed = time.perf_counter()
            await call.write(COMMIT_FRAME)
            await call.done_writing()
            first: float | None = None
            while (frame := await call.read()) is not grpc.aio.EOF:  # type: ignore[attr-defined]
                if first is None and frame.WhichOneof("kind") == "output":
                    first = time.perf_counter()
            if first is not None:
                samples.append(first - committed)

    started = time.perf_counter()
    async with anyio.create_task_group() as tasks:
        for index in range(sessions):
            tasks.start_soon(utterances, pool[index % len(pool)])
    elapsed = time.perf_counter() - started
    for channel in pool:
        await channel.close()
    return {
        "sessions": sessions,
        "utterances": len(samples),
        "utterances_per_s": round(len(samples) / elapsed, 1),
        **latency_ms(samples),
        "samples_s": samples,  # to merge with other client processes' (dropped by the caller)
    }


Call = grpc.aio.StreamStreamCall[bytes, pb.ServerFrame]


async def opened(channel: grpc.aio.Channel) -> Call:
    """A session, opened and accepted."""
    call: Call = channel.stream_stream(
        SESSION_METHOD, response_deserializer=pb.ServerFrame.FromString
    )()
    await call.write(open_frame())
    await call.read()
    return call


async def commit_timed(
    call: Call, commit: bytes, first_of: Callable[[pb.ServerFrame], bool]
) -> tuple[float | None, pb.ServerFrame | None]:
    """Commits and reads the answer to its end: seconds from the commit to the first frame
    ``first_of`` picks (``None`` without one), and the last frame."""
    committed = time.perf_counter()
    await call.write(commit)
    await call.done_writing()  # as the SDK and the load generator do
    first: float | None = None
    last: pb.ServerFrame | None = None
    while (frame := await call.read()) is not grpc.aio.EOF:  # type: ignore[attr-defined]
        if first is None and first_of(frame):
            first = time.perf_counter() - committed
        last = frame
    return first, last


async def first_audio(target: str, rounds: int) -> dict[str, Any]:
    """Commit -> first audio through nexy-stream, one session after another."""
    samples: list[float] = []
    async with grpc.aio.insecure_channel(target) as channel:
        for _ in range(rounds):
            call = await opened(channel)
            first, _ = await commit_timed(
                call, QUESTION_FRAME, lambda f: f.output.HasField("audio")
            )
            if first is not None:
                samples.append(first)
    return {"utterances": len(samples), **latency_ms(samples)}


SPOKEN = ["what is", "what is on my", "what is on my screen"]


def spoken_frame(seq: int, hint: bool) -> bytes:
    """The ``seq``-th interim of SPOKEN; with ``hint`` the last one is marked stable, as a
    speech recognizer marks its final segment."""
    text = pb.Text(text=SPOKEN[seq - 1], stable=hint and seq == len(SPOKEN))
    return pb.ClientFrame(collect=pb.Collect(chunk_seq=seq, text=text)).SerializeToString()


async def spoken(
    target: str, rounds: int, pause_s: float, final: str, hint: bool
) -> dict[str, Any]:
    """Commit -> first output of an utterance spoken the way a user speaks: interims word by
    word (the last marked stable with ``hint``), a pause while the end of speech is detected,
    then the commit of ``final`` ("same": the last interim; else that text)."""
    commit_text = SPOKEN[-1] if final == "same" else final
    commit = pb.ClientFrame(commit=pb.Commit(final_text=pb.Text(text=commit_text)))
    samples: list[float] = []
    prepared = 0
    async with grpc.aio.insecure_channel(target) as channel:
        for _ in range(rounds):
            call = await opened(channel)
            for seq in range(1, len(SPOKEN) + 1):
                await call.write(spoken_frame(seq, hint))
                await call.read()
            await anyio.sleep(pause_s)
            first, last = await commit_timed(
                call, commit.SerializeToString(), lambda f: f.HasField("output")
            )
            if first is not None:
                samples.append(first)
            prepared += last is not None and last.end.timings.prepared
    return {"utterances": len(samples), "prepared": prepared, **latency_ms(samples)}


def direct_audio(base_url: str, rounds: int) -> dict[str, Any]:
    """The same first audio straight from the OpenAI-compatible service, with as little as
    a client can do: one kept-alive connection per endpoint, the LLM's stream read line by
    line until its first sentence is complete, then that sentence's speech until its first
    byte. What nexy-stream adds is the difference."""
    url = urllib.parse.urlsplit(base_url)
    chat, speech = (http.client.HTTPConnection(url.netloc) for _ in range(2))
    headers = {"Content-Type": "application/json"}
    samples: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        body = {
            "model": "bench",
            "stream": True,
            "messages": [{"role": "user", "content": "hello"}],
        }
        chat.request("POST", f"{url.path}/chat/completions", json.dumps(body), headers)
        answer = chat.getresponse()
        splitter, sentence = SentenceSplitter(), None
        while sentence is None and (line := answer.readline()):
            if line.startswith(b"data: {"):
                delta = json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
                sentence = next(iter(splitter.feed(delta)), None)
        body = {"model": "bench", "voice": "alloy", "input": sentence, "response_format": "pcm"}
        speech.request("POST", f"{url.path}/audio/speech", json.dumps(body), headers)
        audio = speech.getresponse()
        audio.read(1)
        samples.append(time.perf_counter() - started)
        audio.read()
        answer.read()
    chat.close()
    speech.close()
    return {"utterances": len(samples), **latency_ms(samples)}


async def idle(target: str, counts: list[int]) -> dict[str, Any]:
    """Opens idle sessions up to each of ``counts``, printing ``ready N`` and waiting for a
    line on stdin after each (the caller measures the server meanwhile); then closes them."""
    pool = channels(target, max(counts))
    calls: list[grpc.aio.StreamStreamCall[bytes, bytes]] = []

    async def open_one(channel: grpc.aio.Channel) -> None:
        call = raw_session(channel)
        await call.write(open_frame())
        await call.read()
        calls.append(call)

    for target_count in counts:
        while len(calls) < target_count:
            batch = min(250, target_count - len(calls))
            async with anyio.create_task_group() as tasks:
                for index in range(batch):
                    tasks.start_soon(open_one, pool[(len(calls) + index) % len(pool)])
        print(f"ready {len(calls)}", flush=True)
        await anyio.to_thread.run_sync(sys.stdin.readline)
    for call in calls:
        call.cancel()
    for channel in pool:
        await channel.close()
    return {"opened": len(calls)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    modes = ["frames", "sessions", "legacy", "speech", "latency", "idle"]
    parser.add_argument("mode", choices=[*modes, "first-audio", "direct-audio", "spoken"])
    parser.add_argument("--target", required=True)
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--sessions", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--counts", default="1000,10000")
    parser.add_argument("--token", default="", help="a bearer token for every session")
    parser.add_argument("--pause", type=float, default=0.4, help="spoken: end of speech to commit")
    parser.add_argument("--final", default="same", help="spoken: the committed text")
    parser.add_argument("--no-hint", action="store_true", help="spoken: no stable interim")
    parser.add_argument(
        "--connections", type=int, default=0, help="0: one per 500 streams (frames, latency)"
    )
    args = parser.parse_args()
    metadata = (("authorization", f"Bearer {args.token}"),) if args.token else ()
    window = (args.target, args.streams, args.warmup, args.seconds)
    if args.mode == "frames":
        result = anyio.run(frames, *window, metadata, args.connections)
    elif args.mode == "sessions":
        result = anyio.run(sessions, *window, metadata)
    elif args.mode == "legacy":
        result = anyio.run(legacy, *window)
    elif args.mode == "speech":
        result = anyio.run(speech, *window)
    elif args.mode == "latency":
        result = anyio.run(latency, args.target, args.sessions, args.rounds, args.connections)
    elif args.mode == "first-audio":
        result = anyio.run(first_audio, args.target, args.rounds)
    elif args.mode == "direct-audio":
        result = direct_audio(args.target, args.rounds)
    elif args.mode == "spoken":
        hint = not args.no_hint
        result = anyio.run(spoken, args.target, args.rounds, args.pause, args.final, hint)
    else:
        counts = [int(n) for n in args.counts.split(",")]
        result = anyio.run(idle, args.target, counts)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
