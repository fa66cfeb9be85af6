"""The async client: one gRPC channel, one bidirectional stream per session."""

from __future__ import annotations

import platform
import time
import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from importlib import metadata as package_metadata
from types import TracebackType
from typing import Any, Self

import grpc

from nexy_stream.client import codec
from nexy_stream.client._messages.nexy.stream import v1 as wire
from nexy_stream.client.channel import bearer_metadata, open_channel, session_metadata
from nexy_stream.client.errors import ProtocolUsageError
from nexy_stream.client.session import Call, Resumption, Session, open_session
from nexy_stream.session import ClientInfo, Open, ScreenSize

Metadata = Sequence[tuple[str, str | bytes]]


def default_client_info() -> ClientInfo:
    try:
        version = package_metadata.version("nexy-stream")
    except package_metadata.PackageNotFoundError:
        version = ""
    return ClientInfo("nexy-stream-sdk", version, platform.platform(terse=True))


class Client:
    """A connection to a nexy-stream server; ``async with`` it, then open sessions.

    ``target`` is ``host:port``. TLS: pass ``credentials`` (any ``grpc.ChannelCredentials``,
    e.g. from ``grpc.ssl_channel_credentials``), or ``tls=True`` with optional
    ``root_certificates`` (PEM bytes; the system roots otherwise). ``token`` is sent with
    every session as ``authorization: Bearer <token>``; ``metadata`` goes with every session
    too. ``open_timeout`` bounds connecting plus
    the server's answer to ``open``; ``deadline`` (seconds, optional) bounds a whole
    session; ``close_timeout`` bounds how long a cancel waits for the server's last frame.

    ``output_budget`` bounds the answer a session holds unread (text and audio bytes): once
    reached, the session stops reading the stream until the application reads events, and
    flow control makes the server's pipeline wait, so a slow reader (e.g. one playing the
    audio in real time) costs neither memory nor a runaway pipeline. A single piece larger
    than the budget is still delivered; other events are never held back by it.

    ``resume`` (on by default) resumes a session whose stream is lost (a reset, a network
    change, a server process that went away) on a new stream, invisibly to the application:
    ``True`` for the default :class:`Resumption` (bounded retries with backoff and jitter),
    a ``Resumption`` of your own, or ``False``. Every session's calls carry its id as
    ``x-nexy-session-id`` metadata, so a load balancer can route a resumed stream to the
    server process that holds the session.
    """

    def __init__(
        self,
        target: str,
        *,
        tls: bool = False,
        root_certificates: bytes | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        token: str | None = None,
        metadata: Metadata = (),
        open_timeout: float = 10.0,
        deadline: float | None = None,
        close_timeout: float = 5.0,
        output_budget: int = 4 * 1024 * 1024,
        client_info: ClientInfo | None = None,
        channel_options: Sequence[tuple[str, Any]] = (),
        resume: bool | Resumption = True,
    ) -> None:
        if credentials is None and (tls or root_certificates is not None):
            credentials = grpc.ssl_channel_credentials(root_certificates)
        self.target = target
        self._credentials = credentials
        self._metadata = (*bearer_metadata(token), *metadata)
        self._open_timeout = open_timeout
        self._deadline = deadline
        self._close_timeout = close_timeout
        if output_budget < 1:
            raise ValueError(f"output_budget must be at least 1 byte, got {output_budget}")
        self._output_budget = output_budget
        self._client_info = client_info or default_client_info()
        self._channel_options = list(channel_options)
        self._resumption = Resumption() if resume is True else resume or None
        self._channel: grpc.aio.Channel | None = None

    async def __aenter__(self) -> Self:
        self._channel = open_channel(self.target, self._credentials, self._channel_options)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._channel is not None:
            await self._channel.close(None)
            self._channel = None

    def session(
        self,
        device_id: str,
        *,
        session_id: str | None = None,
        screen: tuple[int, int] | None = None,
        client_info: ClientInfo | None = None,
        metadata: Metadata = (),
        deadline: float | None = None,
    ) -> AbstractAsyncContextManager[Session]:
        """One utterance: ``async with client.session(device_id=...) as s``.

        Entering sends ``open`` and waits for the server to accept it (raising its refusal,
        e.g. ``ALREADY_EXISTS`` for a live session id); leaving cancels whatever remains.
        ``session_id`` defaults to a fresh UUID; ``screen`` is ``(width, height)``.
        """
        channel = self._channel
        if channel is None:
            raise ProtocolUsageError("open sessions inside `async with Client(...)`")

        renew_id = session_id is None
        session_id = session_id or str(uuid.uuid4())
        calls_metadata = (*self._metadata, *metadata)
        limit = deadline if deadline is not None else self._deadline
        ends_at = None if limit is None else time.monotonic() + limit

        spares: list[grpc.aio.Channel] = []

        def start_call(for_session: str, fresh: bool) -> Call:
            """A call of the session: a retry gets what is left of the session's deadline,
            and on ``fresh`` a connection of its own: the client's may be waiting out a
            reconnect backoff, or lead to another server process."""
            on = channel
            if fresh:
                options = [*self._channel_options, ("grpc.use_local_subchannel_pool", 1)]
                on = open_channel(self.target, self._credentials, options)
                spares.append(on)
            return on.stream_stream(
                codec.METHOD,
                request_serializer=None,  # the session encodes (and measures) each frame
                response_deserializer=wire.ServerFrame.parse,
            )(
                None,  # frames are written with call.write(), not from an iterator
                metadata=(*calls_metadata, *session_metadata(for_session)),
                timeout=None if ends_at is None else max(ends_at - time.monotonic(), 0.0),
            )

        opening = Open(
            session_id=session_id,
            device_id=device_id,
            client=client_info or self._client_info,
            screen=None if screen is None else ScreenSize(*screen),
        )
        return open_session(
            start_call,
            opening,
            self._open_timeout,
            self._close_timeout,
            self._output_budget,
            self._resumption,
            renew_id,
            spares,
        )
