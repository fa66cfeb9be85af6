"""The floor of the stack: a bare grpc.aio bidi server speaking the same v1 framing.

One reply per frame, as nexy-stream does (accepted, collect_ack, commit_accepted, the echo
pipeline's output, end), with no session actor, anyio task group, registry or observers:
what any grpcio service doing this job costs at least.

``python -m bench.bare_server --port PORT``
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import grpc

from nexy_stream._proto.nexy.stream.v1 import session_pb2 as pb
from nexy_stream.pipeline import EchoPipeline, TextOutput
from nexy_stream.server.service import SESSION_SERVICE
from nexy_stream.session import CommittedRequest

_ECHO = EchoPipeline()


async def _answer(commit: pb.Commit, text: str, context: Any) -> None:
    text = commit.final_text.text if commit.HasField("final_text") else text
    await context.write(pb.ServerFrame(commit_accepted=pb.CommitAccepted(text=text)))
    count = 0
    async for item in _ECHO.run(CommittedRequest("bench", "bench", text)):
        if isinstance(item, TextOutput):
            output = pb.Output(text=item.text)
        else:
            audio = pb.Audio(data=item.data, sample_rate_hz=item.sample_rate_hz, channels=1)
            output = pb.Output(audio=audio)
        await context.write(pb.ServerFrame(output=output))
        count += 1
    await context.write(pb.ServerFrame(end=pb.End(output_frames=count)))


async def session(_requests: object, context: Any) -> None:
    text, highest = "", 0
    while (frame := await context.read()) is not grpc.aio.EOF:  # type: ignore[attr-defined]
        kind = frame.WhichOneof("kind")
        if kind == "collect":
            highest = max(highest, frame.collect.chunk_seq)
            text = frame.collect.text.text or text
            ack = pb.CollectAck(chunk_seq=frame.collect.chunk_seq, highest_applied_seq=highest)
            await context.write(pb.ServerFrame(collect_ack=ack))
        elif kind == "open":
            accepted = pb.Accepted(session_id=frame.open.session_id)
            await context.write(pb.ServerFrame(accepted=accepted))
        elif kind == "commit":
            await _answer(frame.commit, text, context)
            return
        else:
            await context.write(pb.ServerFrame(end=pb.End()))
            return


async def start(port: int) -> grpc.aio.Server:
    server = grpc.aio.server()
    handler = grpc.stream_stream_rpc_method_handler(
        session,
        request_deserializer=pb.ClientFrame.FromString,
        response_serializer=pb.ServerFrame.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(SESSION_SERVICE, {"Session": handler})]
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server


async def serve(port: int) -> None:
    await (await start(port)).wait_for_termination()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))
