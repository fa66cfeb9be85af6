"""The live feed: fans lifecycle changes out to watchers, each with a bounded queue.

Publishing never waits: a watcher whose queue is full loses the event, and the next event
it gets carries the number lost. A watcher that loses too many in a row is ended, so a
stalled reader costs the server a fixed amount of memory and nothing else.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import anyio
import grpc

from nexy_stream._proto.nexy.admin.v1 import admin_pb2 as apb
from nexy_stream.ops import codec
from nexy_stream.ops.config import OpsConfig
from nexy_stream.ops.lifecycle import Change, ChangeKind
from nexy_stream.ops.live import LiveSessions
from nexy_stream.session import Outcome

Payload = apb.Snapshot | apb.SessionEvent | apb.Aggregate


@dataclass(frozen=True, slots=True)
class WatchFilter:
    device_id: str = ""
    outcomes: frozenset[Outcome] = frozenset()

    def wants(self, change: Change) -> bool:
        if self.device_id and change.device_id != self.device_id:
            return False
        if self.outcomes:
            return change.kind is ChangeKind.ENDED and change.outcome in self.outcomes
        return True


@dataclass(frozen=True, slots=True)
class Queued:
    skipped: int  # events lost right before this one
    wall_time: float
    payload: Payload

    def event(self) -> apb.WatchEvent:
        event = apb.WatchEvent(skipped=self.skipped)
        event.time.FromNanoseconds(int(self.wall_time * 1e9))
        getattr(event, _KIND[type(self.payload)]).CopyFrom(self.payload)
        return event


_KIND = {apb.Snapshot: "snapshot", apb.SessionEvent: "session", apb.Aggregate: "aggregate"}


class FeedClosed(Exception):
    """The feed ended this watcher; ``code`` and ``message`` say why."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Watcher:
    def __init__(self, wants: WatchFilter, capacity: int, max_skipped: int) -> None:
        self.filter = wants
        self._capacity = capacity
        self._max_skipped = max_skipped
        self._queue: deque[Queued] = deque()
        self._skipped = 0
        self._ready = anyio.Event()
        self.ended = anyio.Event()
        self.reason: FeedClosed | None = None

    def offer(self, payload: Payload, wall_time: float | None = None) -> None:
        if self.reason is not None:
            return
        if len(self._queue) >= self._capacity:
            self._skipped += 1
            if self._skipped >= self._max_skipped:
                self.end(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"the watcher fell behind: {self._skipped} events dropped in a row "
                    f"(feed_max_skipped={self._max_skipped}, feed_buffer={self._capacity}); "
                    "read faster or narrow the filters",
                )
            return
        stamp = time.time() if wall_time is None else wall_time
        self._queue.append(Queued(self._skipped, stamp, payload))
        self._skipped = 0
        self._ready.set()

    def end(self, code: grpc.StatusCode, message: str) -> None:
        if self.reason is None:
            self.reason = FeedClosed(code, message)
            self._queue.clear()
            self.ended.set()
            self._ready.set()

    async def take(self) -> Queued | None:
        """The next queued event; ``None`` once the watcher is ended."""
        while not self._queue:
            if self.reason is not None:
                return None
            self._ready = anyio.Event()
            await self._ready.wait()
        return self._queue.popleft()


class FeedHub:
    """A sink for lifecycle changes that the admin service's watchers subscribe to."""

    def __init__(self, config: OpsConfig, live: LiveSessions) -> None:
        self._config = config
        self._live = live
        self._watchers: list[Watcher] = []
        self._closed: FeedClosed | None = None

    def __len__(self) -> int:
        """How many watchers are connected."""
        return len(self._watchers)

    def publish(self, change: Change) -> None:
        event: apb.SessionEvent | None = None
        for watcher in self._watchers:
            if watcher.filter.wants(change):
                if event is None:  # built once, and only when someone watches
                    event = codec.session_event(change)
                watcher.offer(event, change.wall_time)

    @contextmanager
    def watch(self, wants: WatchFilter) -> Iterator[Watcher]:
        """A registered watcher whose first event is the snapshot of the live sessions.

        Snapshot and registration happen in one synchronous step, so no change falls
        between them or is seen twice.
        """
        if self._closed is not None:
            raise self._closed
        if len(self._watchers) >= self._config.max_watchers:
            raise FeedClosed(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"too many watchers: {len(self._watchers)} already (max_watchers="
                f"{self._config.max_watchers})",
            )
        watcher = Watcher(wants, self._config.feed_buffer, self._config.feed_max_skipped)
        if not wants.outcomes:
            sessions = (
                (actor, protocol)
                for actor, protocol in self._live
                if not wants.device_id or actor.device_id == wants.device_id
            )
            watcher.offer(codec.snapshot(sessions, self._live.now()))
        else:  # no live session has an outcome yet
            watcher.offer(apb.Snapshot())
        self._watchers.append(watcher)
        try:
            yield watcher
        finally:
            self._watchers.remove(watcher)

    def close(self) -> None:
        """Ends every watcher and refuses new ones: the server is stopping."""
        self._closed = FeedClosed(grpc.StatusCode.UNAVAILABLE, "the server is stopping")
        for watcher in self._watchers:
            watcher.end(self._closed.code, self._closed.message)
