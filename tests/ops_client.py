"""Helpers for the operations tests: scrape /metrics, watch the admin feed, run sessions."""

from __future__ import annotations

import urllib.request
from collections.abc import Sequence

import anyio
import grpc
from prometheus_client.parser import text_string_to_metric_families

from nexy_stream._proto.nexy.admin.v1 import admin_pb2 as apb
from nexy_stream.ops.admin import WATCH_METHOD
from tests.wire import Answer, RawSession, commit_frame, text_frame

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(port: int) -> Samples:
    """Every sample of the server's /metrics, keyed by name and labels."""

    def fetch() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
            return str(reply.read().decode())

    text = await anyio.to_thread.run_sync(fetch)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[name, frozenset(labels.items())]


def watch(
    channel: grpc.aio.Channel, metadata: Sequence[tuple[str, str]] = (), **request: object
) -> grpc.aio.UnaryStreamCall:
    call = channel.unary_stream(
        WATCH_METHOD,
        request_serializer=apb.WatchRequest.SerializeToString,
        response_deserializer=apb.WatchEvent.FromString,
    )
    return call(apb.WatchRequest(**request), metadata=tuple(metadata))


async def next_event(call: grpc.aio.UnaryStreamCall) -> apb.WatchEvent:
    event = await call.read()
    assert event is not grpc.aio.EOF, "the feed ended"
    return event


async def session_events(call: grpc.aio.UnaryStreamCall, count: int) -> list[apb.SessionEvent]:
    """The next ``count`` session events, aggregates skipped."""
    found: list[apb.SessionEvent] = []
    while len(found) < count:
        event = await next_event(call)
        if event.HasField("session"):
            found.append(event.session)
    return found


async def committed_session(
    channel: grpc.aio.Channel, device_id: str = "device-1", texts: Sequence[str] = ("hello",)
) -> Answer:
    session = RawSession(channel)
    await session.open(device_id=device_id)
    for seq, text in enumerate(texts, start=1):
        await session.exchange(text_frame(seq, text))
    await session.send(commit_frame())
    return await session.drain()


def changes(events: Sequence[apb.SessionEvent]) -> list[str]:
    return [str(event.WhichOneof("change")) for event in events]
