"""The client SDK: one bidirectional stream per utterance, hard to misuse.

    async with Client("127.0.0.1:50051") as client:
        async with client.session(device_id="my-mac") as s:
            await s.interim("what is on")
            await s.commit("what is on my screen")
            async for event in s:
                ...

:class:`SyncClient` offers the same sessions to code that is not async.
"""

from nexy_stream.client.client import Client
from nexy_stream.client.errors import (
    FrameTooLargeError,
    NexyError,
    ProtocolUsageError,
    ServerError,
    TransportError,
)
from nexy_stream.client.events import (
    Ack,
    AudioChunk,
    AudioEncoding,
    Committed,
    Ended,
    Event,
    GoingAway,
    SessionStats,
    TextChunk,
)
from nexy_stream.client.session import Resumption, Session
from nexy_stream.client.sync import SyncClient, SyncSession
from nexy_stream.session import ClientInfo, CollectResult, EndReason, Limits, Screenshot, Timings

__all__ = [
    "Ack",
    "AudioChunk",
    "AudioEncoding",
    "Client",
    "ClientInfo",
    "CollectResult",
    "Committed",
    "EndReason",
    "Ended",
    "Event",
    "FrameTooLargeError",
    "GoingAway",
    "Limits",
    "NexyError",
    "ProtocolUsageError",
    "Resumption",
    "Screenshot",
    "ServerError",
    "Session",
    "SessionStats",
    "SyncClient",
    "SyncSession",
    "TextChunk",
    "Timings",
    "TransportError",
]
