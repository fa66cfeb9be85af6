"""The synchronous face: the async client run on an event loop thread of its own.

An anyio blocking portal owns the loop; every method hands its work to the async
:class:`Session`, so both faces share one implementation and the same semantics.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from types import TracebackType
from typing import Any, Self

from anyio.from_thread import BlockingPortal, start_blocking_portal

from nexy_stream.client.client import Client, Metadata
from nexy_stream.client.errors import NexyError, ProtocolUsageError
from nexy_stream.client.events import Ended, Event, SessionStats
from nexy_stream.client.session import Session
from nexy_stream.session import ClientInfo, Limits, Screenshot


class SyncSession:
    """A :class:`Session` for code that is not async; same methods, blocking."""

    def __init__(self, portal: BlockingPortal, session: Session) -> None:
        self._portal = portal
        self._session = session

    def interim(self, text: str, delta: bool = False, stable: bool = False) -> None:
        self._portal.call(self._session.interim, text, delta, stable)

    def screenshot(self, data: bytes, *, mime_type: str, width: int = 0, height: int = 0) -> None:
        self._portal.call(
            lambda: self._session.screenshot(data, mime_type=mime_type, width=width, height=height)
        )

    def commit(
        self,
        final_text: str | None = None,
        delta: bool = False,
        screenshot: Screenshot | None = None,
    ) -> None:
        self._portal.call(self._session.commit, final_text, delta, screenshot)

    def cancel(self, reason: str = "") -> Ended | None:
        return self._portal.call(self._session.cancel, reason)

    def events(self) -> Iterator[Event]:
        while (event := self._portal.call(self._session.next_event)) is not None:
            yield event

    def __iter__(self) -> Iterator[Event]:
        return self.events()

    @property
    def session_id(self) -> str:
        return self._session.session_id

    @property
    def limits(self) -> Limits:
        return self._session.limits

    @property
    def pipeline(self) -> str:
        return self._session.pipeline

    @property
    def stats(self) -> SessionStats:
        return self._session.stats

    @property
    def error(self) -> NexyError | None:
        return self._session.error

    @property
    def ended(self) -> Ended | None:
        return self._session.ended


class SyncClient:
    """:class:`Client` for code that is not async: ``with SyncClient(target) as client``,
    then ``with client.session(device_id=...) as s``. Takes the same options."""

    def __init__(self, target: str, **options: Any) -> None:
        self._client = Client(target, **options)
        self._stack = ExitStack()
        self._portal: BlockingPortal | None = None

    def __enter__(self) -> Self:
        portal = self._stack.enter_context(start_blocking_portal(backend="asyncio"))
        self._stack.enter_context(portal.wrap_async_context_manager(self._client))
        self._portal = portal
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._portal = None
        self._stack.__exit__(exc_type, exc, tb)

    @contextmanager
    def session(
        self,
        device_id: str,
        *,
        session_id: str | None = None,
        screen: tuple[int, int] | None = None,
        client_info: ClientInfo | None = None,
        metadata: Metadata = (),
        deadline: float | None = None,
    ) -> Iterator[SyncSession]:
        """One utterance, as :meth:`Client.session`."""
        if self._portal is None:
            raise ProtocolUsageError("open sessions inside `with SyncClient(...)`")
        opened = self._portal.wrap_async_context_manager(
            self._client.session(
                device_id,
                session_id=session_id,
                screen=screen,
                client_info=client_info,
                metadata=metadata,
                deadline=deadline,
            )
        )
        with opened as session:
            yield SyncSession(self._portal, session)
